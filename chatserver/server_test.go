// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/version"
)

func getBody(t *testing.T, u string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestUIIsServedFromTheBinaryWithoutOtherOrigins(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	_, ts := startChat(t, testConfig(rs.connectionString()))

	tests := map[string]struct {
		path            string
		wantContentType string
		wantContains    string
	}{
		"the page is HTML with the join form": {path: "/", wantContentType: "text/html", wantContains: `id="join-form"`},
		"the stylesheet is CSS":               {path: "/app.css", wantContentType: "text/css", wantContains: ".messages"},
		"the script is JavaScript":            {path: "/app.js", wantContentType: "javascript", wantContains: "json.webpubsub.azure.v1"},
		"the page carries the server's message limit": {path: "/", wantContentType: "text/html",
			wantContains: fmt.Sprintf(`data-max-chars="%d"`, MaxMessageChars)},
		"the page names its icon": {path: "/", wantContentType: "text/html", wantContains: `<link rel="icon" type="image/svg+xml" href="favicon.svg">`},
		"the icon is SVG":         {path: "/favicon.svg", wantContentType: "image/svg+xml", wantContains: "<svg"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := http.Get(ts.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tc.wantContentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.wantContentType)
			}
			if !strings.Contains(body, tc.wantContains) {
				t.Errorf("body lacks %q", tc.wantContains)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q does not restrict scripts to the page's origin", csp)
			}
			// An SVG file names its XML namespace, which is never fetched.
			body = strings.ReplaceAll(body, `xmlns="http://www.w3.org/2000/svg"`, "")
			for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s contains %q", tc.path, bad)
				}
			}
		})
	}
}

func TestUnknownPathsAreNotFound(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	_, ts := startChat(t, testConfig(rs.connectionString()))
	for _, p := range []string{"/index.html/x", "/client/hubs/chat", "/nope"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	_, ts := startChat(t, testConfig(rs.connectionString()))

	if resp, err := http.Get(ts.URL + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp, err := http.Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz with a healthy service: status %d, want 200", resp.StatusCode)
	}
}

func TestReadinessFollowsTheServiceAndCachesBriefly(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	srv, err := New(testConfig(rs.connectionString()), Options{Logger: testLogger(t), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if err := srv.ready.status(ctx); err != nil {
		t.Fatalf("healthy service reported not ready: %v", err)
	}
	rs.setStatus(http.StatusServiceUnavailable)
	if err := srv.ready.status(ctx); err != nil {
		t.Fatalf("within the cache time the previous answer must be reused, got %v", err)
	}
	if n := rs.healthCount(); n != 1 {
		t.Errorf("%d health checks within the cache time, want 1", n)
	}
	advance(3 * time.Second)
	if err := srv.ready.status(ctx); err == nil {
		t.Fatal("an unhealthy service was reported ready after the cache expired")
	}
	rs.setStatus(0)
	advance(3 * time.Second)
	if err := srv.ready.status(ctx); err != nil {
		t.Fatalf("a recovered service was reported not ready: %v", err)
	}
}

func TestMetricsCountNegotiationsAndEvents(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	srv, ts := startChat(t, testConfig(rs.connectionString()))
	getNegotiate(t, ts.URL, "id=alice", nil)
	getNegotiate(t, ts.URL, "", nil)
	connectedEvent("alice").post(t, ts.URL)
	messageEvent("alice", "text/plain", "hi").post(t, ts.URL)
	messageEvent("alice", "text/plain", strings.Repeat("x", MaxMessageChars+1)).post(t, ts.URL)

	m := metricsOf(t, srv)
	for _, want := range []string{
		`chathub_chatserver_negotiations_total{result="ok"} 1`,
		`chathub_chatserver_negotiations_total{result="bad_request"} 1`,
		`chathub_chatserver_events_total{event="connected"} 1`,
		`chathub_chatserver_events_total{event="message"} 2`,
		`chathub_chatserver_broadcasts_total{kind="system"} 1`,
		`chathub_chatserver_broadcasts_total{kind="chat"} 1`,
		`chathub_chatserver_messages_refused_total{reason="messageTooLong"} 1`,
		`chathub_chatserver_request_duration_seconds_count{handler="negotiate"} 2`,
		`chathub_chatserver_broadcast_duration_seconds_count 2`,
		version.BuildInfoSample(),
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, testKey) {
		t.Error("metrics contain the access key")
	}
}

func TestShutdownFinishesInFlightWebhooks(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	rs.mu.Lock()
	rs.block, rs.entered = release, entered
	rs.mu.Unlock()

	cfg := testConfig(rs.connectionString())
	srv, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx, ln) }()

	type result struct {
		status int
	}
	webhook := make(chan result, 1)
	go func() {
		resp, _ := messageEvent("alice", "text/plain", "in flight").post(t, base)
		webhook <- result{resp.StatusCode}
	}()
	<-entered // the webhook is now waiting on the broadcast
	cancel()

	select {
	case err := <-runErr:
		t.Fatalf("Run returned (%v) while a webhook was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	// New connections are refused while draining.
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the server still accepts connections after shutdown began")
	}
	close(release)
	if r := <-webhook; r.status != http.StatusNoContent {
		t.Errorf("in-flight webhook answered %d, want 204", r.status)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := rs.sent(); len(got) != 1 || !strings.Contains(got[0].Body, "in flight") {
		t.Errorf("the in-flight message was not broadcast: %+v", got)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("context not cancelled")
	}
}
