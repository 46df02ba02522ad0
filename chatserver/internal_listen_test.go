// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/pubsub"
)

// statusOf is the status code of a request to u.
func statusOf(t *testing.T, method, u string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// listenLocal listens on a free loopback port.
func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// expectInternalOnly checks that /eventhandler and /metrics are refused on
// public, /metrics on internal too, and that metrics serves /metrics.
func expectInternalOnly(t *testing.T, public, internal, metrics string) {
	t.Helper()
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, "/eventhandler"}, {http.MethodOptions, "/eventhandler"},
		{http.MethodPost, "/eventhandler/chat"}, {http.MethodGet, "/metrics"},
	} {
		if got := statusOf(t, r.method, public+r.path); got != http.StatusNotFound {
			t.Errorf("%s %s on the public address: %d, want 404", r.method, r.path, got)
		}
	}
	if got := statusOf(t, http.MethodGet, public+"/readyz"); got != http.StatusOK {
		t.Errorf("GET /readyz on the public address: %d, want 200", got)
	}
	if got := statusOf(t, http.MethodGet, internal+"/metrics"); got != http.StatusNotFound {
		t.Errorf("GET /metrics on the internal address: %d, want 404 (metrics have their own listener)", got)
	}
	if m := getBody(t, metrics+"/metrics"); !strings.Contains(m, "chathub_chatserver_events_total") {
		t.Errorf("GET /metrics on the metrics address does not serve the chat server's metrics:\n%s", m)
	}
}

func TestInternalListenerAloneServesTheEventHandlerAndMetrics(t *testing.T) {
	t.Parallel()
	svcLn := listenLocal(t)
	emu, err := pubsub.New(pubsub.Config{Endpoint: &url.URL{Scheme: "http", Host: svcLn.Addr().String()},
		AccessKeys: []string{testKey}, Logger: testLogger(t).With("component", "service")})
	if err != nil {
		t.Fatalf("pubsub.New: %v", err)
	}
	svc := &http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = svc.Serve(svcLn) }()
	t.Cleanup(func() {
		_ = emu.Shutdown(context.WithoutCancel(t.Context()))
		_ = svc.Close()
	})

	cfg := testConfig(emu.ConnectionString())
	cfg.ProxyClient = true
	cfg.InternalListen = "127.0.0.1:0"
	srv, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	pubLn, intLn, metLn := listenLocal(t), listenLocal(t), listenLocal(t)
	public, internal := "http://"+pubLn.Addr().String(), "http://"+intLn.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pubLn, Listeners{Internal: intLn, Metrics: metLn}) }()
	if err := emu.SetHubSettings("chat", EventHandlerSettings(internal+"/eventhandler")); err != nil {
		t.Fatalf("registering the event handler: %v", err)
	}

	alice := join(t, public, "alice")
	alice.expectNotice("alice joined")
	bob := join(t, public, "bob")
	alice.expectNotice("bob joined")
	bob.send("through the internal port")
	alice.expectChat("bob", "through the internal port")

	expectInternalOnly(t, public, internal, "http://"+metLn.Addr().String())
	// A forged event on the internal port is still refused.
	if resp, body := (cloudEvent{Type: "azure.webpubsub.user.message", EventName: "message", UserID: "mallory",
		Body: "hi", Signature: strPtr("sha256=00")}).post(t, internal); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged event on the internal port: %d %s, want 401", resp.StatusCode, body)
	}
	if got := statusOf(t, http.MethodGet, internal+"/"); got != http.StatusNotFound {
		t.Errorf("GET / on the internal address: %d, want 404 (the UI is public only)", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
}

func TestWithoutInternalListenTheEventHandlerStaysOnListenButNotTheMetrics(t *testing.T) {
	t.Parallel()
	st := startStack(t, false)
	if st.server.InternalHandler() != nil {
		t.Fatal("InternalHandler is not nil without --internal-listen")
	}
	if got := statusOf(t, http.MethodGet, st.chat.URL+"/metrics"); got != http.StatusNotFound {
		t.Errorf("GET /metrics on the public address: %d, want 404 (an Ingress routes it to the world)", got)
	}
	alice := join(t, st.chat.URL, "alice")
	alice.expectNotice("alice joined")
	if m := metricsOf(t, st.server); !strings.Contains(m, `chathub_chatserver_events_total{event="connected"} 1`) {
		t.Errorf("the metrics listener does not count the event the public port handled:\n%s", m)
	}
}

func TestEmbeddedModeCallsTheHandlerOnTheInternalPort(t *testing.T) {
	t.Parallel()
	// A free port for the internal listener, which RunEmbedded opens itself.
	internalAddr, metricsAddr := freeAddr(t), freeAddr(t)
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.InternalListen, cfg.MetricsListen = internalAddr, metricsAddr
	var out lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- RunEmbedded(ctx, cfg, Options{Logger: testLogger(t)}, &out) }()

	var chatURL string
	for deadline := time.Now().Add(15 * time.Second); chatURL == "" && time.Now().Before(deadline); {
		for _, f := range strings.Fields(out.String()) {
			if strings.HasPrefix(f, "http://") {
				chatURL = strings.TrimSuffix(f, "/")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if chatURL == "" {
		t.Fatalf("RunEmbedded printed no URL to open; output:\n%s", out.String())
	}
	// The public port refuses the handler, so the chat works only if the
	// in-process service calls the internal one.
	alice := join(t, chatURL, "alice")
	alice.expectNotice("alice joined")
	bob := join(t, chatURL, "bob")
	alice.expectNotice("bob joined")
	bob.send("hello via the internal port")
	alice.expectChat("bob", "hello via the internal port")
	expectInternalOnly(t, chatURL, "http://"+internalAddr, "http://"+metricsAddr)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunEmbedded: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RunEmbedded did not return after its context was cancelled")
	}
}

func TestServeNeedsAnInternalListenerExactlyWhenConfigured(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	cfg := testConfig(rs.connectionString())
	cfg.Listen = "127.0.0.1:8080"
	cfg.InternalListen = cfg.Listen
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "--internal-listen") {
		t.Errorf("New with --internal-listen equal to --listen: %v, want an error naming --internal-listen", err)
	}

	cfg.InternalListen, cfg.MetricsListen = "", cfg.Listen
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("New with --metrics-listen equal to --listen: %v, want an error naming --metrics-listen", err)
	}
	cfg.Listen, cfg.InternalListen, cfg.MetricsListen = "127.0.0.1:0", "", "127.0.0.1:0"
	srv, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	pubLn, intLn := listenLocal(t), listenLocal(t)
	defer func() { _ = pubLn.Close(); _ = intLn.Close() }()
	if err := srv.Serve(t.Context(), pubLn, Listeners{Internal: intLn}); err == nil {
		t.Error("Serve with an internal listener but no --internal-listen: no error")
	}
	cfg.InternalListen = "127.0.0.1:0"
	srv, err = New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Serve(t.Context(), pubLn, Listeners{}); err == nil {
		t.Error("Serve with --internal-listen but no internal listener: no error")
	}
}
