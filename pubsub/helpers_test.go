// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/fdconn"
	"github.com/chathub/chathub/webpubsub"
)

const (
	testKey  = "0123456789abcdefghijklmnopqrstuvwxyzABCD"
	testKey2 = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxw"
	testHub  = "chat"
)

// testEnv is a real service on 127.0.0.1 with a REST client for it.
type testEnv struct {
	srv      *Server
	hs       *httptest.Server
	endpoint *url.URL
	rest     *webpubsub.Client
}

// newEnv starts a service; mutate adjusts its config before New.
func newEnv(t testing.TB, mutate func(*Config)) *testEnv {
	t.Helper()
	ln, err := fdconn.Listen("127.0.0.1:0") // as RunCommand serves
	if err != nil {
		t.Fatal(err)
	}
	endpoint := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	cfg := Config{Endpoint: endpoint, AccessKeys: []string{testKey, testKey2}, UpstreamRetryDelays: []time.Duration{}}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &testEnv{srv: srv, hs: hs, endpoint: endpoint, rest: restClient(t, srv)}
}

// restClient is a REST client of srv's testHub, from srv's own connection string.
func restClient(t testing.TB, srv *Server) *webpubsub.Client {
	t.Helper()
	cs, err := webpubsub.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		t.Fatalf("parsing our own connection string: %v", err)
	}
	rest, err := webpubsub.NewClient(cs, testHub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rest
}

// clientURL signs a client token for hub and returns the WebSocket URL.
func (e *testEnv) clientURL(t *testing.T, hub string, opts webpubsub.ClientTokenOptions) string {
	t.Helper()
	a, err := webpubsub.ClientAccessFor(e.endpoint, testKey, hub, opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return a.URL
}

// wsClient is a real gorilla WebSocket client.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

// dial connects to rawURL offering subprotocols and fails the test on error.
func dial(t *testing.T, rawURL string, subprotocols ...string) *wsClient {
	t.Helper()
	c, resp, err := tryDial(rawURL, nil, subprotocols...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	wc := &wsClient{t: t, ws: c}
	t.Cleanup(func() { _ = c.Close() })
	return wc
}

func tryDial(rawURL string, header http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(rawURL, header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return c, resp, err
}

// connectJSON dials with the JSON subprotocol and returns the client and its connected message.
func (e *testEnv) connectJSON(t *testing.T, subprotocol string, opts webpubsub.ClientTokenOptions) (*wsClient, map[string]any) {
	t.Helper()
	c := dial(t, e.clientURL(t, testHub, opts), subprotocol)
	if got := c.ws.Subprotocol(); got != subprotocol {
		t.Fatalf("negotiated subprotocol %q, want %q", got, subprotocol)
	}
	m := c.readJSON()
	if m["type"] != "system" || m["event"] != "connected" {
		t.Fatalf("first message %v is not the connected message", m)
	}
	return c, m
}

func (c *wsClient) read() (int, []byte) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return mt, data
}

// readJSON reads the next text frame as a JSON object.
func (c *wsClient) readJSON() map[string]any {
	c.t.Helper()
	mt, data := c.read()
	if mt != websocket.TextMessage {
		c.t.Fatalf("got frame type %d, want text", mt)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("frame %q is not JSON: %v", data, err)
	}
	return m
}

// readUntil reads JSON messages until one has the given type and returns it.
func (c *wsClient) readUntil(typ string) map[string]any {
	c.t.Helper()
	for range 20 {
		if m := c.readJSON(); m["type"] == typ {
			return m
		}
	}
	c.t.Fatalf("no %q message in 20 frames", typ)
	return nil
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expectClose reads until the server closes and returns the close code and text.
func (c *wsClient) expectClose() (int, string) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		c.t.Fatalf("read ended with %v, want a close frame", err)
	}
}

// expectSilence checks that no frame arrives within d.
func (c *wsClient) expectSilence(d time.Duration) {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	if _, data, err := c.ws.ReadMessage(); err == nil {
		c.t.Fatalf("got unexpected frame %q", data)
	}
}

// handlerServer runs a real webpubsub.EventHandler for testHub and registers it.
func (e *testEnv) handlerServer(t *testing.T, opts webpubsub.EventHandlerOptions, systemEvents ...string) {
	t.Helper()
	opts.Hub = testHub
	opts.AccessKeys = func() []string { return []string{testKey, testKey2} }
	opts.AllowedOrigins = []string{"*"}
	h, err := webpubsub.NewEventHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	err = e.srv.SetHubSettings(testHub, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{
		EventHandlers: []webpubsub.EventHandlerSettings{{
			URLTemplate: hs.URL + "/events/{event}", UserEventPattern: "*", SystemEvents: systemEvents,
		}},
	}})
	if err != nil {
		t.Fatalf("SetHubSettings: %v", err)
	}
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// dialRegistered dials a client as user and waits until the service has registered it: a raw
// client gets no connected message to wait for, and a REST send before registration would
// rightly not reach it.
func dialRegistered(t *testing.T, e *testEnv, user string, opts webpubsub.ClientTokenOptions, subprotocols ...string) *wsClient {
	t.Helper()
	opts.UserID = user
	c := dial(t, e.clientURL(t, testHub, opts), subprotocols...)
	eventually(t, user+" to be registered", func() bool { ok, _ := e.rest.UserExists(ctx(t), user); return ok })
	return c
}
