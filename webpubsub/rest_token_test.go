// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClientReusesAServiceTokenPerURLForAMinute checks that a token is signed once per request
// URL (its audience) and signed anew once it is a minute old, and that every token is valid
// for its URL.
func TestClientReusesAServiceTokenPerURLForAMinute(t *testing.T) {
	t.Parallel()
	key := strings.Repeat("k", 32)
	var mu sync.Mutex
	tokens := map[string][]string{} // by audience
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, err := ParseToken(tok, []string{key}, time.Now(), time.Minute)
		if err != nil || c.Audience != "http://"+r.Host+r.RequestURI {
			t.Errorf("request %s: token invalid for its URL (aud %q): %v", r.URL.Path, c.Audience, err)
		}
		mu.Lock()
		tokens[c.Audience] = append(tokens[c.Audience], tok)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	cs, err := ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=" + key + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(cs, "chat", &ClientOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	send := func() {
		t.Helper()
		if err := c.SendToAll(ctx, TextContent("hi"), nil); err != nil {
			t.Fatal(err)
		}
	}
	send()
	send()
	if err := c.SendToUser(ctx, "alice", TextContent("hi"), nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(tokenReuse - time.Second)
	send()
	now = now.Add(2 * time.Second) // the first token is now older than tokenReuse
	send()

	mu.Lock()
	defer mu.Unlock()
	if len(tokens) != 2 {
		t.Fatalf("requests went to %d URLs, want 2", len(tokens))
	}
	for aud, toks := range tokens {
		if strings.Contains(aud, "/users/") {
			if len(toks) != 1 {
				t.Errorf("SendToUser made %d requests, want 1", len(toks))
			}
			continue
		}
		if len(toks) != 4 {
			t.Fatalf("SendToAll made %d requests, want 4", len(toks))
		}
		if toks[1] != toks[0] || toks[2] != toks[0] {
			t.Error("requests to the same URL within a minute carried different tokens, want the first one reused")
		}
		if toks[3] == toks[0] {
			t.Error("a request more than a minute after the token was signed reused it")
		}
	}
}
