// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		statuses   []int
		wantPosts  int
		wantStatus int // 0 => success
	}{
		"500 then success is retried until it succeeds": {[]int{500, 500, 204}, 3, 0},
		"408 is retried": {[]int{408, 200}, 2, 0},
		"503 every time gives up after 4 attempts": {[]int{503}, 4, 503},
		"400 is not retried":                       {[]int{400, 204}, 1, 400},
		"429 is not retried":                       {[]int{429, 204}, 1, 429},
		"404 is not retried":                       {[]int{404, 204}, 1, 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, statusHandler(tc.statuses...))
			d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}")})
			_, err := d.UserEvent(context.Background(), info("c"), "message", webpubsub.ContentTypeText, []byte("x"))
			if n := len(rec.requests(http.MethodPost)); n != tc.wantPosts {
				t.Fatalf("handler got %d attempts, want %d", n, tc.wantPosts)
			}
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("UserEvent = %v, want success", err)
				}
				return
			}
			var re *RejectError
			if !errors.As(err, &re) || re.StatusCode != tc.wantStatus {
				t.Fatalf("UserEvent = %v, want RejectError %d", err, tc.wantStatus)
			}
		})
	}
}

func TestNetworkErrorsAreRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		if calls.Add(1) == 1 {
			// Drop the connection without an answer.
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close() // the client sees the dropped connection either way
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}")})
	if _, err := d.Connect(context.Background(), info("c"), ConnectEventBody{}); err != nil {
		t.Fatalf("Connect = %v, want success on the retry", err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler saw %d attempts, want 2", n)
	}
}

func TestTheEventTimeoutEndsASlowHandlerWithoutRetry(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		calls.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}"), Timeout: 300 * time.Millisecond})
	_, err := d.Connect(context.Background(), info("c"), ConnectEventBody{})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect = %v, want a deadline error", err)
	}
	// Under load the deadline may pass before the first request arrives; never more than one.
	if n := calls.Load(); n > 1 {
		t.Fatalf("handler saw %d attempts, want at most 1 (timeouts are not retried)", n)
	}
}

func TestAnOversizedAnswerFails(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/{event}"), MaxResponseBytes: 1024})
	_, err := d.UserEvent(context.Background(), info("c"), "message", webpubsub.ContentTypeText, []byte("x"))
	var re *RejectError
	if !errors.As(err, &re) || re.StatusCode != http.StatusInternalServerError {
		t.Fatalf("UserEvent = %v, want a 500 RejectError for a too large answer", err)
	}
}
