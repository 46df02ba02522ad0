// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// fleet is a set of raw WebSocket clients that record the latency of every message they
// receive (the payload starts with the send time in Unix nanoseconds) and count the messages
// of each connection. They are read by epoll loops (see rawclient.go).
type fleet struct {
	conns []*rawConn
	polls *pollers
	rec   atomic.Pointer[recorder]
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

// connectFleet opens n raw connections to the PubSub service, in turn to each replica of
// rests; the first group of them join group "small" through their token. pollerCount epoll
// loops read them, polling every interval (0: blocking).
func connectFleet(rests []*webpubsub.Client, n, group, pollerCount int, interval time.Duration) (*fleet, error) {
	inGroup := make([]string, len(rests))
	plain := make([]string, len(rests))
	for i, rest := range rests {
		g, err := rest.ClientAccess(webpubsub.ClientTokenOptions{Groups: []string{"small"}, TTL: time.Hour})
		if err != nil {
			return nil, err
		}
		p, err := rest.ClientAccess(webpubsub.ClientTokenOptions{TTL: time.Hour})
		if err != nil {
			return nil, err
		}
		inGroup[i], plain[i] = g.URL, p.URL
	}
	return dialFleet(n, pollerCount, interval, func(i int) (*rawConn, error) {
		if i < group {
			return dialRaw(inGroup[i%len(rests)], 20*time.Second, nil)
		}
		return dialRaw(plain[i%len(rests)], 20*time.Second, nil)
	})
}

// dialFleet opens n raw connections with dial (64 at a time) and hands them to pollerCount
// epoll loops.
func dialFleet(n, pollerCount int, interval time.Duration, dial func(i int) (*rawConn, error)) (*fleet, error) {
	f := &fleet{conns: make([]*rawConn, n)}
	var err error
	if f.polls, err = newPollers(f, pollerCount, interval); err != nil {
		return nil, err
	}
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
				c, err := dial(i)
				if err == nil {
					f.conns[i] = c
					err = f.polls.add(i, c)
				}
				if err != nil {
					err = fmt.Errorf("connection %d: %w", i, err)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		f.close()
		return nil, *e
	}
	return f, nil
}

// resetCounts zeroes every connection's message count before a scenario.
func (f *fleet) resetCounts() {
	for _, c := range f.conns {
		c.got.Store(0)
	}
}

// lost returns the deliveries missing from the first members connections when each should
// have received want messages.
func (f *fleet) lost(members int, want int64) int64 {
	var lost int64
	for _, c := range f.conns[:members] {
		lost += max(0, want-c.got.Load())
	}
	return lost
}

// short returns how many of the first members connections received fewer than want
// messages, and how many connections in all received more (a duplicate or a stray delivery).
func (f *fleet) short(members int, want int64) (short, extra int) {
	for i, c := range f.conns {
		got := c.got.Load()
		switch {
		case i < members && got < want:
			short++
		case i < members && got > want, i >= members && got > 0:
			extra++
		}
	}
	return short, extra
}

func (f *fleet) close() {
	f.once.Do(func() {
		if f.polls != nil {
			f.polls.close()
		}
		for _, c := range f.conns {
			if c != nil {
				_ = syscall.Close(c.fd)
			}
		}
	})
}

// fanOut sends at rate per second for d to the small group (target "group") or to every
// connection (target "all") and measures deliveries, the CPU time both processes spent and
// whether every member received every message.
func fanOut(rest *webpubsub.Client, f *fleet, svc services, target string, members int, rate float64, d time.Duration, payload int) (row, error) {
	sends := int(rate * d.Seconds())
	rec := newRecorder(sends * members)
	f.resetCounts()
	f.rec.Store(rec)
	defer f.rec.Store(nil)
	pad := strings.Repeat("x", max(0, payload-20))
	interval := time.Duration(float64(time.Second) / rate)
	ctx := context.Background()
	load0 := loadAverage()
	cpu0, err := cpuTimes(svc)
	if err != nil {
		return row{}, err
	}
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
		time.Sleep(5 * time.Millisecond)
	}
	cpu1, err := cpuTimes(svc)
	if err != nil {
		return row{}, err
	}
	time.Sleep(200 * time.Millisecond) // late duplicates would show in the counts
	got := rec.n.Load()
	if got == 0 {
		return row{}, errors.New("no message was delivered")
	}
	short, extra := f.short(members, int64(sends))
	elapsed := time.Duration(rec.last.Load() - start.UnixNano())
	lat := rec.samples[:min(got, int64(len(rec.samples)))]
	name := fmt.Sprintf("Broadcast fan-out to %s connections (%d REST sends/s, %d B)", thousands(members), int(rate), payload)
	if target != "all" {
		name = fmt.Sprintf("Group fan-out to %s connections (%d REST sends/s, %d B)", thousands(members), int(rate), payload)
	}
	perDelivery := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(got) }
	return row{
		name:       name,
		deliveries: float64(got) / elapsed.Seconds(),
		rate: fmt.Sprintf("%s deliveries/s (%d of %d delivered, %d sends failed, %d members short, %d extra)",
			thousands(int(float64(got)/elapsed.Seconds())), got, want, failed.Load(), short, extra),
		p50: percentile(lat, 50),
		p99: percentile(lat, 99),
		detail: fmt.Sprintf("REST send → receipt; CPU per delivery: service %.1f µs, clients %.1f µs; load %s → %s",
			perDelivery(cpu1.service-cpu0.service), perDelivery(cpu1.self-cpu0.self), load0, loadAverage()),
	}, nil
}

// cpuUse is the CPU time (user + system) the service (every replica) and this process have
// used.
type cpuUse struct{ service, self time.Duration }

func cpuTimes(svcs services) (cpuUse, error) {
	var u cpuUse
	for _, svc := range svcs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", svc.cmd.Process.Pid))
		if err != nil {
			return u, err
		}
		// Fields after the command name (which ends with ')'): utime and stime are 14 and 15.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			return u, errors.New("unexpected /proc stat format")
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		u.service += time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return u, err
	}
	u.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return u, nil
}

// loadAverage returns the 1-minute load average of the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
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
			defer func() { _ = c.Close() }()
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
