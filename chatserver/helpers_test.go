// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chathub/chathub/webpubsub"
)

// testKey is the access key of the test services (public, like the
// pubsub service's documented default).
const testKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

// sentMessage is one REST send the recording service received.
type sentMessage struct {
	Path        string
	ContentType string
	Body        string
}

// recordingService is a real HTTP server standing in for the Web PubSub
// data plane in handler tests: it checks the bearer token of every REST
// call, records the sends and answers health checks.
type recordingService struct {
	t  *testing.T
	ts *httptest.Server

	mu          sync.Mutex
	sends       []sentMessage
	healthCalls int
	status      int           // answer for sends and health; 0 => success
	block       chan struct{} // when set, sends wait for it to close
	entered     chan struct{} // when set, signalled as a send starts
}

func newRecordingService(t *testing.T) *recordingService {
	t.Helper()
	rs := &recordingService{t: t}
	rs.ts = httptest.NewServer(http.HandlerFunc(rs.serve))
	t.Cleanup(rs.ts.Close)
	return rs
}

func (rs *recordingService) serve(w http.ResponseWriter, r *http.Request) {
	rs.mu.Lock()
	status, block, entered := rs.status, rs.block, rs.entered
	rs.mu.Unlock()
	if r.Method == http.MethodHead && r.URL.Path == "/api/health" {
		rs.mu.Lock()
		rs.healthCalls++
		rs.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if !rs.validBearer(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if entered != nil {
		entered <- struct{}{}
	}
	if block != nil {
		<-block
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	rs.mu.Lock()
	rs.sends = append(rs.sends, sentMessage{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Body: string(body)})
	rs.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// validBearer checks the REST call's token: HS256 with the access key and
// an audience naming the request URL.
func (rs *recordingService) validBearer(r *http.Request) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return []byte(testKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil || !tok.Valid {
		return false
	}
	aud, _ := tok.Claims.GetAudience()
	return len(aud) == 1 && strings.HasPrefix(aud[0], rs.ts.URL+r.URL.Path)
}

func (rs *recordingService) connectionString() string {
	return "Endpoint=" + rs.ts.URL + ";AccessKey=" + testKey + ";Version=1.0;"
}

func (rs *recordingService) sent() []sentMessage {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]sentMessage(nil), rs.sends...)
}

func (rs *recordingService) setStatus(code int) {
	rs.mu.Lock()
	rs.status = code
	rs.mu.Unlock()
}

// testConfig returns a valid Config pointing at connStr.
func testConfig(connStr string) Config {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.MetricsListen = "127.0.0.1:0"
	cfg.ConnectionString = connStr
	// Tests send bursts of messages; the limit has its own test.
	cfg.UserMessageRate = 0
	return cfg
}

// metricsOf is what the server's metrics listener answers to GET /metrics.
func metricsOf(t *testing.T, srv *Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics on the metrics listener: %d", rec.Code)
	}
	return rec.Body.String()
}

// startChat builds a chat server from cfg and serves it with httptest.
func startChat(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts
}

// testLogger writes the server's logs to the test log until the test ends;
// later records (from goroutines still winding down) are dropped.
func testLogger(t *testing.T) *slog.Logger {
	w := &tlogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct {
	t      *testing.T
	mu     sync.Mutex
	closed bool
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// cloudEvent is one event the tests post to /eventhandler the way the
// service does.
type cloudEvent struct {
	Type        string // ce-type
	EventName   string
	UserID      string
	ConnID      string
	ContentType string
	Body        string
	Signature   *string // nil => correct signature
	Hub         string  // "" => chat
	Time        string  // ce-time; "" => now
}

func (e cloudEvent) post(t *testing.T, baseURL string) (*http.Response, string) {
	t.Helper()
	connID := e.ConnID
	if connID == "" {
		connID = "conn-" + e.UserID
	}
	hub := e.Hub
	if hub == "" {
		hub = "chat"
	}
	req, err := http.NewRequest(http.MethodPost, baseURL+"/eventhandler", bytes.NewBufferString(e.Body))
	if err != nil {
		t.Fatal(err)
	}
	h := req.Header
	h.Set("ce-specversion", "1.0")
	h.Set("ce-type", e.Type)
	h.Set("ce-source", "/hubs/"+hub+"/client/"+connID)
	h.Set("ce-id", "1")
	if e.Time == "" {
		e.Time = time.Now().UTC().Format(time.RFC3339)
	}
	h.Set("ce-time", e.Time)
	h.Set("ce-hub", hub)
	h.Set("ce-connectionId", connID)
	h.Set("ce-eventName", e.EventName)
	h.Set("ce-awpsversion", "1.0")
	h.Set("WebHook-Request-Origin", "127.0.0.1")
	if e.UserID != "" {
		h.Set("ce-userId", e.UserID)
	}
	ct := e.ContentType
	if ct == "" {
		ct = "application/json; charset=utf-8"
	}
	h.Set("Content-Type", ct)
	switch {
	case e.Signature == nil:
		h.Set("ce-signature", webpubsub.Signature(testKey, connID))
	case *e.Signature != "":
		h.Set("ce-signature", *e.Signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("posting %s event: %v", e.EventName, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func connectedEvent(user string) cloudEvent {
	return cloudEvent{Type: webpubsub.EventTypeConnected, EventName: "connected", UserID: user, Body: "{}"}
}

func disconnectedEvent(user string) cloudEvent {
	return cloudEvent{Type: webpubsub.EventTypeDisconnected, EventName: "disconnected", UserID: user, Body: `{"reason":""}`}
}

func messageEvent(user, contentType, body string) cloudEvent {
	return cloudEvent{Type: webpubsub.EventTypeUserPrefix + "message", EventName: "message", UserID: user,
		ContentType: contentType, Body: body}
}

// decodeJSON decodes s into a generic map, failing the test on error.
func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return m
}

func strPtr(s string) *string { return &s }

func (rs *recordingService) healthCount() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.healthCalls
}
