// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

const (
	testKey      = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"
	otherKey     = "zyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUTS"
	testHub      = "chat"
	testOrigin   = "webpubsub.local"
	fastDelay    = time.Millisecond
	requestsPath = "/api/"
)

// seen is one request a handler server received.
type seen struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// recorder wraps a handler and keeps every request it receives.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
	next http.Handler
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: buf.Bytes()})
	rec.mu.Unlock()
	r.Body = http.NoBody
	if buf.Len() > 0 {
		r.Body = readCloser{bytes.NewReader(buf.Bytes())}
	}
	rec.next.ServeHTTP(w, r)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// requests returns the recorded requests with the given method.
func (rec *recorder) requests(method string) []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []seen
	for _, s := range rec.reqs {
		if s.method == method {
			out = append(out, s)
		}
	}
	return out
}

// serve starts an httptest server for h, recording its requests.
func serve(t *testing.T, h http.Handler) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{next: h}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return srv, rec
}

// eventHandler builds a real webpubsub.EventHandler for testHub that trusts keys.
func eventHandler(t *testing.T, keys []string, opts webpubsub.EventHandlerOptions) http.Handler {
	t.Helper()
	opts.Hub = testHub
	opts.AccessKeys = func() []string { return keys }
	if opts.AllowedOrigins == nil {
		opts.AllowedOrigins = []string{testOrigin}
	}
	h, err := webpubsub.NewEventHandler(opts)
	if err != nil {
		t.Fatalf("NewEventHandler: %v", err)
	}
	return h
}

// storeWith returns a store where testHub sends every event to url.
func storeWith(t testing.TB, url string) *settings.Store {
	t.Helper()
	s := settings.NewStore()
	setHandler(t, s, testHub, url)
	return s
}

func setHandler(t testing.TB, s *settings.Store, hub, url string) {
	t.Helper()
	err := s.Set(hub, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{{
		URLTemplate:      url,
		UserEventPattern: "*",
		SystemEvents:     []string{"connect", "connected", "disconnected"},
	}}}})
	if err != nil {
		t.Fatalf("Set(%s): %v", hub, err)
	}
}

// newDispatcher returns a dispatcher with fast retries, closed at the end of the test.
func newDispatcher(t *testing.T, cfg Config) *Dispatcher {
	t.Helper()
	if cfg.AccessKeys == nil {
		cfg.AccessKeys = func() []string { return []string{testKey} }
	}
	if cfg.Origin == "" {
		cfg.Origin = testOrigin
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{fastDelay, fastDelay, fastDelay}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	d := NewDispatcher(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

func info(conn string) ConnectionInfo {
	return ConnectionInfo{Hub: testHub, ConnectionID: conn, UserID: "alice", Subprotocol: webpubsub.SubprotocolJSON}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// statusHandler answers OPTIONS with the allowed origin and POSTs with the statuses in turn
// (the last one repeats).
func statusHandler(statuses ...int) http.Handler {
	var mu sync.Mutex
	n := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		mu.Lock()
		s := statuses[min(n, len(statuses)-1)]
		n++
		mu.Unlock()
		w.WriteHeader(s)
	})
}

func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(s)
}
