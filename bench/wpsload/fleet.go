package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// fleet is a set of raw WebSocket clients that record the latency of every message they
// receive (the payload starts with the send time in Unix nanoseconds).
type fleet struct {
	conns []*websocket.Conn
	rec   atomic.Pointer[recorder]
	wg    sync.WaitGroup
	once  sync.Once
}

// recorder collects latencies of one scenario.
type recorder struct {
	samples []int64
	n       atomic.Int64
	last    atomic.Int64 // unix nanos of the latest receipt
}

func newRecorder(max int) *recorder { return &recorder{samples: make([]int64, max)} }

func (r *recorder) add(sent int64) {
	now := time.Now().UnixNano()
	if i := r.n.Add(1) - 1; i < int64(len(r.samples)) {
		r.samples[i] = now - sent
	}
	for {
		l := r.last.Load()
		if now <= l || r.last.CompareAndSwap(l, now) {
			return
		}
	}
}

// connectFleet opens n raw connections; the first group of them join group "small" through
// their token.
func connectFleet(rest *webpubsub.Client, n, group int) (*fleet, error) {
	inGroup, err := rest.ClientAccess(webpubsub.ClientTokenOptions{Groups: []string{"small"}, TTL: time.Hour})
	if err != nil {
		return nil, err
	}
	plain, err := rest.ClientAccess(webpubsub.ClientTokenOptions{TTL: time.Hour})
	if err != nil {
		return nil, err
	}
	f := &fleet{conns: make([]*websocket.Conn, n)}
	d := websocket.Dialer{HandshakeTimeout: 20 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				u := plain.URL
				if i < group {
					u = inGroup.URL
				}
				c, resp, err := d.Dial(u, nil)
				if resp != nil && resp.Body != nil {
					resp.Body.Close()
				}
				if err != nil {
					err = fmt.Errorf("connection %d: %w", i, err)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				f.conns[i] = c
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		f.close()
		return nil, *e
	}
	for _, c := range f.conns {
		f.wg.Add(1)
		go f.read(c)
	}
	return f, nil
}

func (f *fleet) read(c *websocket.Conn) {
	defer f.wg.Done()
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		s := string(data)
		if i := strings.IndexByte(s, '|'); i > 0 {
			if sent, err := strconv.ParseInt(s[:i], 10, 64); err == nil {
				if r := f.rec.Load(); r != nil {
					r.add(sent)
				}
			}
		}
	}
}

func (f *fleet) close() {
	f.once.Do(func() {
		for _, c := range f.conns {
			if c != nil {
				_ = c.Close()
			}
		}
		f.wg.Wait()
	})
}

// fanOut sends at rate per second for d to the small group (target "group") or to every
// connection (target "all") and measures deliveries.
func fanOut(rest *webpubsub.Client, f *fleet, target string, members int, rate float64, d time.Duration, payload int) (row, error) {
	sends := int(rate * d.Seconds())
	rec := newRecorder(sends * members)
	f.rec.Store(rec)
	defer f.rec.Store(nil)
	pad := strings.Repeat("x", max(0, payload-20))
	interval := time.Duration(float64(time.Second) / rate)
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range sends {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := webpubsub.TextContent(strconv.FormatInt(time.Now().UnixNano(), 10) + "|" + pad)
			var err error
			if target == "all" {
				err = rest.SendToAll(ctx, msg, nil)
			} else {
				err = rest.SendToGroup(ctx, "small", msg, nil)
			}
			if err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	want := int64(sends * members)
	deadline := time.Now().Add(30 * time.Second)
	for rec.n.Load() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := rec.n.Load()
	if got == 0 {
		return row{}, errors.New("no message was delivered")
	}
	elapsed := time.Duration(rec.last.Load() - start.UnixNano())
	lat := rec.samples[:min(got, int64(len(rec.samples)))]
	name := fmt.Sprintf("Broadcast fan-out to %s connections (%d REST sends/s, %d B)", thousands(members), int(rate), payload)
	if target != "all" {
		name = fmt.Sprintf("Group fan-out to %s connections (%d REST sends/s, %d B)", thousands(members), int(rate), payload)
	}
	return row{
		name:   name,
		rate:   fmt.Sprintf("%s deliveries/s (%d of %d delivered, %d sends failed)", thousands(int(float64(got)/elapsed.Seconds())), got, want, failed.Load()),
		p50:    percentile(lat, 50),
		p99:    percentile(lat, 99),
		detail: "REST send → receipt",
	}, nil
}

// userEvents runs clients that send user events (with an ackId) through the upstream echo
// handler and wait for the reply and the ack.
func userEvents(rest *webpubsub.Client, clients int, d time.Duration, payload int) (row, error) {
	access, err := rest.ClientAccess(webpubsub.ClientTokenOptions{TTL: time.Hour})
	if err != nil {
		return row{}, err
	}
	data := strings.Repeat("e", payload)
	var mu sync.Mutex
	var lat []int64
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	start := time.Now()
	stop := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dl := websocket.Dialer{Subprotocols: []string{webpubsub.SubprotocolJSON}, HandshakeTimeout: 10 * time.Second}
			c, resp, err := dl.Dial(access.URL, nil)
			if resp != nil && resp.Body != nil {
				resp.Body.Close()
			}
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			if _, _, err := c.ReadMessage(); err != nil { // connected
				errc <- err
				return
			}
			var local []int64
			for ack := uint64(1); time.Now().Before(stop); ack++ {
				t0 := time.Now()
				msg := fmt.Sprintf(`{"type":"event","event":"echo","dataType":"text","data":%q,"ackId":%d}`, data, ack)
				if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
					errc <- err
					return
				}
				for gotReply, gotAck := false, false; !gotReply || !gotAck; {
					_, b, err := c.ReadMessage()
					if err != nil {
						errc <- err
						return
					}
					s := string(b)
					gotReply = gotReply || strings.Contains(s, `"type":"message"`)
					if strings.Contains(s, `"type":"ack"`) {
						if !strings.Contains(s, `"success":true`) {
							errc <- fmt.Errorf("event failed: %s", s)
							return
						}
						gotAck = true
					}
				}
				local = append(local, int64(time.Since(t0)))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return row{}, fmt.Errorf("user events: %w", err)
	}
	elapsed := time.Since(start)
	return row{
		name:   fmt.Sprintf("User-event round trips through the upstream handler (%d clients, %d B)", clients, payload),
		rate:   fmt.Sprintf("%s events/s (%d events)", thousands(int(float64(len(lat))/elapsed.Seconds())), len(lat)),
		p50:    percentile(lat, 50),
		p99:    percentile(lat, 99),
		detail: "event sent → reply and ack received",
	}, nil
}
