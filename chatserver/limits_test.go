// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// A correctly signed event captured once and replayed later with another
// user and text is refused with 401 and broadcasts nothing.
func TestReplayedWebhookIsRefusedAndBroadcastsNothing(t *testing.T) {
	t.Parallel()
	st := startStackWith(t, func(cfg *Config) { cfg.EventTimeTolerance = time.Minute })
	alice := join(t, st.chat.URL, "alice")
	alice.expectNotice("alice joined")

	replays := map[string]string{
		"a day later":        time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339),
		"two minutes later":  time.Now().Add(-2 * time.Minute).UTC().Format(time.RFC3339),
		"stamped for later":  time.Now().Add(2 * time.Minute).UTC().Format(time.RFC3339),
		"a year ago, in UTC": "2025-11-30T12:00:00Z",
	}
	for name, when := range replays {
		e := messageEvent("mallory", "text/plain", "replayed as mallory")
		e.Time = when
		resp, body := e.post(t, st.chat.URL)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401 (body %q)", name, resp.StatusCode, body)
		}
	}
	// Nothing was broadcast: the next thing alice sees is her marker.
	alice.send("marker")
	alice.expectChat("alice", "marker")
}

// The body timeout applies to every request but the WebSockets of /client/:
// a proxied WebSocket outlives it and still carries messages.
func TestProxiedWebSocketOutlivesTheBodyTimeout(t *testing.T) {
	t.Parallel()
	st := startStack(t, true) // the service and its event handler
	cfg := testConfig(st.server.cfg.ConnectionString)
	cfg.ProxyClient = true
	cfg.ReadBodyTimeout = 500 * time.Millisecond
	srv, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Run: %v", err)
		}
	})
	chatURL := "http://" + ln.Addr().String()

	alice := join(t, chatURL, "alice")
	alice.expectNotice("alice joined")
	// Four times the body timeout with nothing to read: the body timeout
	// must not cut a proxied WebSocket.
	time.Sleep(4 * cfg.ReadBodyTimeout)
	alice.send("still here")
	alice.expectChat("alice", "still here")
}
