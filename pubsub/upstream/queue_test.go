// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chathub/chathub/webpubsub"
)

// eventLog records the events a handler received, per connection, in arrival order.
type eventLog struct {
	mu     sync.Mutex
	byConn map[string][]string // "name#id"
}

func (l *eventLog) add(cc webpubsub.ConnectionContext) {
	// A short random pause makes reordering likely if the dispatcher allowed it.
	time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) //nolint:gosec // G404: scheduling jitter in a test, not a secret
	l.mu.Lock()
	l.byConn[cc.ConnectionID] = append(l.byConn[cc.ConnectionID], cc.EventName+"#"+cc.ID)
	l.mu.Unlock()
}

func TestEventsOfOneConnectionArriveInOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	log := &eventLog{byConn: map[string][]string{}}
	srv, _ := serve(t, eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{
		OnConnected:    func(_ context.Context, r *webpubsub.ConnectedRequest) { log.add(r.Context) },
		OnDisconnected: func(_ context.Context, r *webpubsub.DisconnectedRequest) { log.add(r.Context) },
		OnUserEvent: func(_ context.Context, r *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			log.add(r.Context)
			return nil, nil
		},
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}")})

	const conns, userEvents = 40, 5
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := info("conn-" + strconv.Itoa(c))
			d.Connected(in)
			// Fire the user events without waiting for each other: the dispatcher must still
			// deliver them after connected and before disconnected.
			var uw sync.WaitGroup
			for range userEvents {
				uw.Add(1)
				go func() {
					defer uw.Done()
					if _, err := d.UserEvent(context.Background(), in, "message", webpubsub.ContentTypeText, []byte("x")); err != nil {
						t.Errorf("UserEvent: %v", err)
					}
				}()
			}
			uw.Wait()
			d.Disconnected(in, "bye")
		}()
	}
	wg.Wait()
	waitFor(t, "every disconnected event", func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		n := 0
		for _, evs := range log.byConn {
			if len(evs) > 0 && strings.HasPrefix(evs[len(evs)-1], "disconnected#") {
				n++
			}
		}
		return n == conns
	})
	log.mu.Lock()
	defer log.mu.Unlock()
	for conn, evs := range log.byConn {
		if len(evs) != userEvents+2 {
			t.Fatalf("%s got %d events, want %d: %v", conn, len(evs), userEvents+2, evs)
		}
		for i, e := range evs {
			name, id, _ := strings.Cut(e, "#")
			wantName := "message"
			switch i {
			case 0:
				wantName = "connected"
			case len(evs) - 1:
				wantName = "disconnected"
			}
			if name != wantName || id != strconv.Itoa(i+1) {
				t.Fatalf("%s event %d = %s, want %s#%d; all: %v", conn, i, e, wantName, i+1, evs)
			}
		}
	}
	waitFor(t, "the connection queues to be released", func() bool { return d.pendingConnections() == 0 })
}

func TestDisconnectedReleasesTheConnectionAndRefusesLaterEvents(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, statusHandler(http.StatusNoContent))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}")})
	in := info("c")
	d.Connected(in)
	d.Disconnected(in, "")
	waitFor(t, "both events", func() bool { return len(rec.requests(http.MethodPost)) == 2 })
	waitFor(t, "the queue to be released", func() bool { return d.pendingConnections() == 0 })
	posts := rec.requests(http.MethodPost)
	if posts[1].header.Get("ce-type") != webpubsub.EventTypeDisconnected || string(posts[1].body) != `{"reason":""}` {
		t.Fatalf("second event = %s %s, want disconnected with an empty reason", posts[1].header.Get("ce-type"), posts[1].body)
	}
}

func TestCloseDeliversQueuedEvents(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		time.Sleep(5 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	d := NewDispatcher(Config{Store: storeWith(t, srv.URL+"/{event}"), AccessKeys: func() []string { return []string{testKey} }})
	for i := range 10 {
		in := info(fmt.Sprint("c", i))
		d.Connected(in)
		d.Disconnected(in, "shutdown")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := len(rec.requests(http.MethodPost)); n != 20 {
		t.Fatalf("handler got %d events by Close, want 20", n)
	}
	if _, err := d.UserEvent(context.Background(), info("late"), "message", webpubsub.ContentTypeText, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("UserEvent after Close = %v, want ErrClosed", err)
	}
}

func TestAFullQueueRefusesUserEvents(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		<-release
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}"), QueueSize: 2})
	in := info("c")
	d.Connected(in) // taken by the drain goroutine, blocks in the handler
	waitFor(t, "the drain to start", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		q := d.conns[testHub+"\x00c"]
		return q != nil && len(q.events) == 0
	})
	d.Connected(in)
	d.Connected(in) // queue now holds 2
	_, err := d.UserEvent(context.Background(), in, "message", webpubsub.ContentTypeText, nil)
	close(release)
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("UserEvent on a full queue = %v, want ErrQueueFull", err)
	}
}

func TestMetricsCountRequestsByEventAndOutcome(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, statusHandler(500, 204))
	reg := prometheus.NewRegistry()
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}"), Registerer: reg})
	if _, err := d.Connect(context.Background(), info("c"), ConnectEventBody{}); err != nil {
		t.Fatal(err)
	}
	checks := map[[2]string]float64{
		{"validate", "success"}: 1,
		{"connect", "failure"}:  1,
		{"connect", "success"}:  1,
	}
	for labels, want := range checks {
		if got := testutil.ToFloat64(d.metrics.requests.WithLabelValues(labels[0], labels[1])); got != want {
			t.Errorf("requests{event=%s,outcome=%s} = %v, want %v", labels[0], labels[1], got, want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "chathub_pubsub_upstream_request_duration_seconds"); err != nil || n != 2 {
		t.Errorf("latency histogram series = %d (%v), want 2 (validate, connect)", n, err)
	}
	// A second dispatcher on the same registry shares the collectors instead of failing.
	d2 := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}"), Registerer: reg})
	if d2.metrics.requests != d.metrics.requests {
		t.Error("a second dispatcher on the same registry did not reuse the collectors")
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, statusHandler(500))
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}?code=FUNCTIONKEY"), Logger: logger})
	in := info("c")
	in.State = "U1RBVEVTRUNSRVQ="
	_, err := d.UserEvent(context.Background(), in, "message", webpubsub.ContentTypeText, []byte("BODYSECRET"))
	if err == nil {
		t.Fatal("UserEvent succeeded against a failing handler")
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "Upstream event failed") {
		t.Fatalf("log has no failure line: %s", out)
	}
	for _, secret := range []string{testKey, "FUNCTIONKEY", "BODYSECRET", in.State, webpubsub.Signature(testKey, "c")} {
		if strings.Contains(out, secret) || strings.Contains(err.Error(), secret) {
			t.Fatalf("log or error contains the secret %q:\n%s\n%v", secret, out, err)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestAUserEventWithNothingAheadIsDeliveredByWait(t *testing.T) {
	t.Parallel()
	inHandler, release := make(chan string, 4), make(chan struct{})
	srv, _ := serve(t, eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{
		OnDisconnected: func(_ context.Context, r *webpubsub.DisconnectedRequest) {
			inHandler <- r.Context.EventName
		},
		OnUserEvent: func(_ context.Context, r *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			inHandler <- r.Context.EventName
			<-release
			return &webpubsub.UserEventResponse{Data: []byte("re: " + string(r.Data)), ContentType: webpubsub.ContentTypeText}, nil
		},
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}")})
	in := info("c")
	p, err := d.QueueUserEvent(context.Background(), in, "message", webpubsub.ContentTypeText, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	// No goroutine has the event: the connection's queue waits for the caller's Wait.
	d.mu.Lock()
	q := d.conns[testHub+"\x00c"]
	queued := q != nil && q.running && len(q.events) == 0 && p.ev.inline == q
	d.mu.Unlock()
	if !queued {
		t.Fatal("the user event on an idle queue is not left to Wait")
	}

	type answer struct {
		res *UserEventResult
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := p.Wait()
		answered <- answer{res, err}
	}()
	if got := <-inHandler; got != "message" {
		t.Fatalf("handler got %q first, want the user event", got)
	}
	// Queued while the user event is with the handler: delivered after it, by a drain
	// goroutine, and then the connection is forgotten.
	d.Disconnected(in, "")
	if _, err := d.QueueUserEvent(context.Background(), in, "message", webpubsub.ContentTypeText, nil); !errors.Is(err, errDisconnected) {
		t.Fatalf("user event after disconnected = %v, want errDisconnected", err)
	}
	close(release)
	a := <-answered
	if a.err != nil || string(a.res.Data) != "re: hi" {
		t.Fatalf("Wait = %+v, %v; want the handler's reply", a.res, a.err)
	}
	if got := <-inHandler; got != "disconnected" {
		t.Fatalf("handler got %q second, want disconnected", got)
	}
	waitFor(t, "the queue to be released", func() bool { return d.pendingConnections() == 0 })
}

func TestAUserEventBehindAnotherIsDeliveredByTheDrain(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	log := &eventLog{byConn: map[string][]string{}}
	srv, _ := serve(t, eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{
		OnConnected: func(_ context.Context, r *webpubsub.ConnectedRequest) {
			<-release
			log.add(r.Context)
		},
		OnUserEvent: func(_ context.Context, r *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			log.add(r.Context)
			return nil, nil
		},
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}")})
	in := info("c")
	d.Connected(in) // with the drain goroutine, held in the handler
	p, err := d.QueueUserEvent(context.Background(), in, "message", webpubsub.ContentTypeText, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.ev.inline != nil {
		t.Fatal("a user event queued behind connected is left to Wait")
	}
	close(release)
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if got := strings.Join(log.byConn["c"], " "); got != "connected#1 message#2" {
		t.Fatalf("handler got %q, want connected#1 message#2", got)
	}
}
