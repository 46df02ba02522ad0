// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// fakeClock is a settable clock for the validation cache.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestAbuseProtection(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		handler http.Handler
		wantOK  bool
	}{
		"a real handler that allows our host passes": {
			handler: nil, // built in the test: the webpubsub event handler allowing testOrigin
			wantOK:  true,
		},
		"a real handler that allows only another host is refused": {
			handler: mustHandler(webpubsub.EventHandlerOptions{AllowedOrigins: []string{"other.example.com"}}),
		},
		"an answer that allows any origin passes": {
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodOptions {
					w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
				}
			}),
			wantOK: true,
		},
		"a 200 without WebHook-Allowed-Origin is refused": {
			handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		},
		"a 401 with the allowed origin is refused": {
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(webpubsub.HeaderAllowedOrigin, testOrigin)
				w.WriteHeader(http.StatusUnauthorized)
			}),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := tc.handler
			if h == nil {
				h = eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{})
			}
			srv, rec := serve(t, h)
			d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}?code=secret")})
			_, err := d.Connect(context.Background(), info("c"), ConnectEventBody{})
			opts := rec.requests(http.MethodOptions)
			if len(opts) != 1 {
				t.Fatalf("handler got %d OPTIONS, want 1", len(opts))
			}
			if o := opts[0]; o.path != "/api/validate" || o.header.Get(webpubsub.HeaderRequestOrigin) != testOrigin || o.header.Get("ce-awpsversion") != "1.0" {
				t.Fatalf("validation request = %s %v, want /api/validate with origin and ce-awpsversion", o.path, o.header)
			}
			posts := len(rec.requests(http.MethodPost))
			if tc.wantOK {
				if err != nil || posts != 1 {
					t.Fatalf("Connect = %v with %d POSTs, want success after validation", err, posts)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Connect = %v, want a ValidationError", err)
			}
			if posts != 0 {
				t.Fatalf("handler got %d POSTs after failing validation, want 0", posts)
			}
			if want := srv.URL + "/api/validate"; ve.URL != want {
				t.Fatalf("ValidationError.URL = %q, want %q (no query)", ve.URL, want)
			}
		})
	}
}

func mustHandler(opts webpubsub.EventHandlerOptions) http.Handler {
	opts.Hub = testHub
	opts.AccessKeys = func() []string { return []string{testKey} }
	h, err := webpubsub.NewEventHandler(opts)
	if err != nil {
		panic(err)
	}
	return h
}

func TestValidationSuccessIsCachedThenRenewed(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	// The handler reads ce-time against the same fake clock.
	srv, rec := serve(t, eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{Now: clock.Now}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}"), Now: clock.Now})

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.Connect(context.Background(), info("c"+strconv.Itoa(i)), ConnectEventBody{}); err != nil {
				t.Errorf("Connect: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(rec.requests(http.MethodOptions)); n != 1 {
		t.Fatalf("20 concurrent events caused %d validations, want 1", n)
	}
	clock.Advance(59 * time.Second)
	if _, err := d.Connect(context.Background(), info("x"), ConnectEventBody{}); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.requests(http.MethodOptions)); n != 1 {
		t.Fatalf("validations within the minute = %d, want 1", n)
	}
	clock.Advance(2 * time.Second)
	if _, err := d.Connect(context.Background(), info("y"), ConnectEventBody{}); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.requests(http.MethodOptions)); n != 2 {
		t.Fatalf("validations after the minute = %d, want 2", n)
	}
}

func TestValidationFailureBacksOff(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	var mu sync.Mutex
	allow := false
	srv, rec := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodOptions && allow {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, testOrigin)
		}
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}"), Now: clock.Now})
	connect := func() error {
		_, err := d.Connect(context.Background(), info("c"), ConnectEventBody{})
		return err
	}
	options := func() int { return len(rec.requests(http.MethodOptions)) }

	steps := []struct {
		advance     time.Duration
		allow       bool
		wantOK      bool
		wantOptions int
	}{
		{0, false, false, 1},                      // first failure: back off 1 s
		{500 * time.Millisecond, false, false, 1}, // still backing off: no new request
		{600 * time.Millisecond, false, false, 2}, // retried: back off 2 s
		{1500 * time.Millisecond, true, false, 2}, // within 2 s: the failure stands
		{time.Second, true, true, 3},              // retried and now allowed
		{time.Second, true, true, 3},              // success cached
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		mu.Lock()
		allow = s.allow
		mu.Unlock()
		err := connect()
		if (err == nil) != s.wantOK {
			t.Fatalf("step %d: Connect = %v, want ok=%v", i, err, s.wantOK)
		}
		if n := options(); n != s.wantOptions {
			t.Fatalf("step %d: %d validation requests, want %d", i, n, s.wantOptions)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		values []string
		want   bool
	}{
		"a star allows":                         {[]string{"*"}, true},
		"our host allows":                       {[]string{testOrigin}, true},
		"our host in other case allows":         {[]string{"WebPubSub.Local"}, true},
		"our host in a list allows":             {[]string{"a.com, webpubsub.local"}, true},
		"another host refuses":                  {[]string{"a.com"}, false},
		"no header refuses":                     {nil, false},
		"our host with a scheme does not match": {[]string{"https://webpubsub.local"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := originAllowed(tc.values, testOrigin); got != tc.want {
				t.Fatalf("originAllowed(%q) = %v, want %v", tc.values, got, tc.want)
			}
		})
	}
}
