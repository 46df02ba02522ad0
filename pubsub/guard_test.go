// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"testing"
	"time"
)

// Beyond --max-unauthenticated the oldest unauthenticated connections are closed, while a REST
// caller's keep-alive connection, authenticated by its token, is kept.
func TestUnauthenticatedConnectionsAreBoundedNotAuthenticatedOnes(t *testing.T) {
	t.Parallel()
	const limit = 4
	hs := httptest.NewUnstartedServer(nil)
	endpoint := &url.URL{Scheme: "http", Host: hs.Listener.Addr().String()}
	srv, err := New(Config{Endpoint: endpoint, AccessKeys: []string{testKey}, MaxUnauthenticated: limit})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	srv.ConfigureHTTPServer(hs.Config)
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	rest := restClient(t, srv)
	// reused reports whether a REST call went over a connection opened before.
	reused := func() bool {
		t.Helper()
		var got bool
		c := httptrace.WithClientTrace(ctx(t), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { got = i.Reused }})
		if _, err := rest.UserExists(c, "nobody"); err != nil {
			t.Fatalf("REST call: %v", err)
		}
		return got
	}
	reused() // opens the keep-alive connection

	stalled := make([]net.Conn, 3*limit)
	for i := range stalled {
		c, err := net.Dial("tcp", endpoint.Host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil { // headers never end
			t.Fatal(err)
		}
		stalled[i] = c
	}
	// The first 2×limit stalled connections are closed by the service as newer ones come.
	for i, c := range stalled[:2*limit] {
		if !waitClosed(c, 20*time.Second) {
			t.Fatalf("stalled connection %d is still open, beyond the bound of %d", i, limit)
		}
	}
	if !reused() {
		t.Fatal("the REST caller's authenticated keep-alive connection was closed")
	}
	res, err := http.Get(hs.URL + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d", res.StatusCode)
	}
}
