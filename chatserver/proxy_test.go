// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// seenRequest is what the stand-in service received through the proxy.
type seenRequest struct {
	host, path, query string
	header            http.Header
}

func TestClientProxyForwardsOnlyToTheServiceAndDropsPageCredentials(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []seenRequest
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, seenRequest{host: r.Host, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone()})
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(svc.Close)
	cfg := testConfig("Endpoint=" + svc.URL + ";AccessKey=" + testKey + ";Version=1.0;")
	cfg.ProxyClient = true
	_, ts := startChat(t, cfg)

	req, err := http.NewRequest(http.MethodGet, ts.URL+"/client/hubs/chat?access_token=tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", "session=chat-page-secret")
	req.Header.Set("Origin", ts.URL)
	req.Header.Set("X-Forwarded-For", "10.9.9.9")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "drop me")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d, want the service's answer (418)", res.StatusCode)
	}
	mu.Lock()
	n := len(seen)
	var got seenRequest
	if n > 0 {
		got = seen[0]
	}
	mu.Unlock()
	if n != 1 {
		t.Fatalf("the service saw %d requests, want 1", n)
	}
	if got.host != strings.TrimPrefix(svc.URL, "http://") || got.path != "/client/hubs/chat" || got.query != "access_token=tok" {
		t.Errorf("forwarded to host %q path %q query %q, want the service's host with path and query kept", got.host, got.path, got.query)
	}
	for _, h := range []string{"Cookie", "Origin", "X-Hop", "X-Forwarded-For"} {
		if v := got.header.Get(h); v != "" {
			t.Errorf("header %s = %q reached the service; it must be dropped", h, v)
		}
	}

	// Paths outside /client/ are never proxied, even spelled to climb out of it.
	for _, p := range []string{"/client/../api/hubs/chat/:send", "/client/%2e%2e/api/hubs/chat/:send", "/api/hubs/chat/:send"} {
		res, err := http.Post(ts.URL+p, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen[1:] {
		if !strings.HasPrefix(s.path, "/client/") {
			t.Errorf("the proxy forwarded %s to the service", s.path)
		}
	}
}
