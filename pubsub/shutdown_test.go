// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chathub/chathub/pubsub/fdconn"
	"github.com/chathub/chathub/webpubsub"
)

// TestShutdownStopsTheHTTPServerItConfigured checks that Shutdown stops the HTTP server that
// ConfigureHTTPServer prepared once the clients are gone: a REST caller's idle keep-alive
// connection is closed (its next call opens a new connection, which the Service sends to
// another replica), no new connection is accepted, and hs.Serve returns.
func TestShutdownStopsTheHTTPServerItConfigured(t *testing.T) {
	t.Parallel()
	ln, err := fdconn.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	srv, err := New(Config{Endpoint: endpoint, AccessKeys: []string{testKey}, UpstreamRetryDelays: []time.Duration{}})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()} //nolint:gosec // G112: ConfigureHTTPServer sets the timeouts
	srv.ConfigureHTTPServer(hs)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	rest := restClient(t, srv)
	ws := dial(t, (&testEnv{endpoint: endpoint}).clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "u"}))

	// A keep-alive connection that has carried one request, as a REST caller's pooled one.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = idle.Close() }()
	if _, err := io.WriteString(idle, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("health before the shutdown: %v, %+v; want 200 with keep-alive", err, resp)
	}
	_ = resp.Body.Close()
	if err := rest.SendToAll(ctx(t), webpubsub.TextContent("before"), nil); err != nil {
		t.Fatalf("REST call before the shutdown: %v", err)
	}

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_ = ws.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := ws.ws.ReadMessage(); err != nil {
			break // the client connection was closed
		}
	}
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the idle keep-alive connection after Shutdown: read %d bytes, %v; want EOF", n, err)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second); err == nil {
		_ = c.Close()
		t.Fatal("the service still accepts connections after Shutdown")
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("hs.Serve returned %v, want http.ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hs.Serve has not returned 5 s after Shutdown")
	}
}
