// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// Test keys: never real, long enough to look like the service's.
const (
	ehHub    = "chat"
	ehKey1   = "primary-key-0123456789abcdefghijklmnopqrstuv"
	ehKey2   = "secondary-key-0123456789abcdefghijklmnopqrst"
	ehOrigin = "my-service.webpubsub.azure.com"
	ehConnID = "0f9c97a2f0bf4706afe87a14e0797b11"
)

// logBuffer collects log output written by concurrent handlers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startEventHandler serves an EventHandler on a real local HTTP server. Unset Hub, AccessKeys,
// AllowedOrigins and Logger get test defaults; the returned buffer holds the debug log.
func startEventHandler(t *testing.T, opts webpubsub.EventHandlerOptions) (*httptest.Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts.Hub == "" {
		opts.Hub = ehHub
	}
	if opts.AccessKeys == nil {
		opts.AccessKeys = func() []string { return []string{ehKey1, ehKey2} }
	}
	if opts.AllowedOrigins == nil {
		opts.AllowedOrigins = []string{ehOrigin}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := webpubsub.NewEventHandler(opts)
	if err != nil {
		t.Fatalf("NewEventHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, logs
}

// ceEvent describes one CloudEvents request as the service sends it.
type ceEvent struct {
	ceType      string
	eventName   string
	connID      string
	userID      string
	hub         string
	subprotocol string
	state       string // raw ce-connectionState
	ceTime      string
	ceID        string
	contentType string
	body        []byte
	signature   string            // "" => SignatureHeader([ehKey1, ehKey2], connID)
	omit        []string          // headers to leave out
	extra       map[string]string // headers to add or override
}

func connectEvent(body string) ceEvent {
	return ceEvent{ceType: webpubsub.EventTypeConnect, eventName: "connect", contentType: "application/json; charset=utf-8", body: []byte(body)}
}

func userEvent(name, contentType string, data []byte) ceEvent {
	return ceEvent{ceType: webpubsub.EventTypeUserPrefix + name, eventName: name, contentType: contentType, body: data}
}

// sendEvent posts e to the server and returns the response with its body read.
func sendEvent(t *testing.T, srv *httptest.Server, e ceEvent) (*http.Response, string) {
	t.Helper()
	return sendEventBody(t, srv, e, bytes.NewReader(e.body))
}

// sendEventBody posts e with the given body.
func sendEventBody(t *testing.T, srv *httptest.Server, e ceEvent, body io.Reader) (*http.Response, string) {
	t.Helper()
	if e.connID == "" {
		e.connID = ehConnID
	}
	if e.hub == "" {
		e.hub = ehHub
	}
	if e.signature == "" {
		e.signature = webpubsub.SignatureHeader([]string{ehKey1, ehKey2}, e.connID)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/eventhandler", body)
	if err != nil {
		t.Fatal(err)
	}
	set := func(name, value string) {
		if value != "" {
			req.Header.Set(name, value)
		}
	}
	set(webpubsub.HeaderSpecVersion, "1.0")
	set(webpubsub.HeaderType, e.ceType)
	set(webpubsub.HeaderSource, "/hubs/"+e.hub+"/client/"+e.connID)
	set(webpubsub.HeaderID, e.ceID)
	if e.ceTime == "" {
		// The service stamps every event; an event without one is refused.
		e.ceTime = time.Now().UTC().Format(time.RFC3339Nano)
	}
	set(webpubsub.HeaderTime, e.ceTime)
	set(webpubsub.HeaderSignature, e.signature)
	set(webpubsub.HeaderUserID, e.userID)
	set(webpubsub.HeaderConnectionID, e.connID)
	set(webpubsub.HeaderHub, e.hub)
	set(webpubsub.HeaderEventName, e.eventName)
	set(webpubsub.HeaderSubprotocol, e.subprotocol)
	set(webpubsub.HeaderConnectionState, e.state)
	set(webpubsub.HeaderAWPSVersion, "1.0")
	set(webpubsub.HeaderRequestOrigin, ehOrigin)
	set("Content-Type", e.contentType)
	for _, h := range e.omit {
		req.Header.Del(h)
	}
	for k, v := range e.extra {
		req.Header.Set(k, v)
	}
	return doRequest(t, srv.Client(), req)
}

func doRequest(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp, string(b)
}

// decodeStateHeader decodes a ce-connectionState response header into plain values.
func decodeStateHeader(t *testing.T, v string) map[string]any {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("ce-connectionState %q is not base64: %v", v, err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("ce-connectionState %q is not a JSON object: %v", raw, err)
	}
	return out
}

// wantResponse fails the test when the response status or body is not as expected.
func wantResponse(t *testing.T, resp *http.Response, body string, status int, bodyContains string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, status, body)
	}
	if !strings.Contains(body, bodyContains) {
		t.Fatalf("body = %q, want it to contain %q", body, bodyContains)
	}
}
