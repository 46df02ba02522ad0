// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub"
	"github.com/chathub/chathub/webpubsub"
)

// stack is a whole chat: the in-process PubSub service and the
// chat server, each on its own real HTTP server, the chat's event handler
// registered with the service.
type stack struct {
	service *httptest.Server
	chat    *httptest.Server
	server  *Server
}

func startStack(t *testing.T, proxyClient bool) *stack {
	t.Helper()
	return startStackWith(t, func(cfg *Config) { cfg.ProxyClient = proxyClient })
}

// startStackWith is startStack with the chat server's configuration
// changed by configure.
func startStackWith(t *testing.T, configure func(*Config)) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	emu, err := pubsub.New(pubsub.Config{Endpoint: endpoint, AccessKeys: []string{testKey}, Logger: testLogger(t).With("component", "service")})
	if err != nil {
		t.Fatalf("pubsub.New: %v", err)
	}
	svc := httptest.NewUnstartedServer(emu.Handler())
	_ = svc.Listener.Close() // replaced by ln, which the service listens on
	svc.Listener = ln
	svc.Start()
	t.Cleanup(func() {
		_ = emu.Shutdown(t.Context())
		svc.Close()
	})

	cfg := testConfig(emu.ConnectionString())
	configure(&cfg)
	srv, chatTS := startChat(t, cfg)
	if err := emu.SetHubSettings("chat", EventHandlerSettings(chatTS.URL+"/eventhandler")); err != nil {
		t.Fatalf("registering the event handler: %v", err)
	}
	return &stack{service: svc, chat: chatTS, server: srv}
}

// chatClient is a real WebSocket client speaking json.webpubsub.azure.v1,
// as the UI does.
type chatClient struct {
	t      *testing.T
	user   string
	conn   *websocket.Conn
	frames chan map[string]any
}

// join negotiates a URL for user from the chat server and connects.
func join(t *testing.T, chatURL, user string) *chatClient {
	t.Helper()
	resp, body := getNegotiate(t, chatURL, "id="+url.QueryEscape(user), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("negotiate %s: %d %s", user, resp.StatusCode, body)
	}
	var nr negotiateResponse
	if err := json.Unmarshal([]byte(body), &nr); err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{Subprotocols: []string{webpubsub.SubprotocolJSON}, HandshakeTimeout: 10 * time.Second}
	conn, hresp, err := d.Dial(nr.URL, nil)
	if err != nil {
		status := 0
		if hresp != nil {
			status = hresp.StatusCode
		}
		t.Fatalf("dialing the client URL for %s: %v (HTTP %d)", user, err, status)
	}
	if conn.Subprotocol() != webpubsub.SubprotocolJSON {
		t.Fatalf("subprotocol %q, want %s", conn.Subprotocol(), webpubsub.SubprotocolJSON)
	}
	c := &chatClient{t: t, user: user, conn: conn, frames: make(chan map[string]any, 4096)}
	go c.read()
	t.Cleanup(func() { _ = conn.Close() })
	first := c.nextFrame()
	if first["type"] != "system" || first["event"] != "connected" {
		t.Fatalf("first frame %v, want the connected system message", first)
	}
	return c
}

func (c *chatClient) read() {
	defer close(c.frames)
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			c.frames <- m
		}
	}
}

func (c *chatClient) nextFrame() map[string]any {
	c.t.Helper()
	select {
	case m, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("%s: connection closed while waiting for a frame", c.user)
		}
		return m
	case <-time.After(15 * time.Second):
		c.t.Fatalf("%s: no frame within 15s", c.user)
	}
	return nil
}

// next returns the data of the next message from the server.
func (c *chatClient) next() map[string]any {
	c.t.Helper()
	for {
		m := c.nextFrame()
		if m["type"] != "message" {
			continue
		}
		if m["from"] != "server" || m["dataType"] != "json" {
			c.t.Fatalf("%s: message %v, want from server with dataType json", c.user, m)
		}
		data, ok := m["data"].(map[string]any)
		if !ok {
			c.t.Fatalf("%s: message data %v is not a JSON object", c.user, m["data"])
		}
		return data
	}
}

// expectNotice reads the next message and checks it is the system notice.
func (c *chatClient) expectNotice(text string) {
	c.t.Helper()
	if d := c.next(); d["type"] != "system" || d["message"] != text {
		c.t.Fatalf("%s: got %v, want the notice %q", c.user, d, text)
	}
}

// expectChat reads the next message and checks sender and text.
func (c *chatClient) expectChat(from, text string) {
	c.t.Helper()
	if d := c.next(); d["from"] != from || d["message"] != text {
		c.t.Fatalf("%s: got %v, want %q from %s", c.user, d, text, from)
	}
}

func (c *chatClient) send(text string) {
	c.t.Helper()
	msg := map[string]any{"type": "event", "event": "message", "dataType": "text", "data": text}
	if err := c.conn.WriteJSON(msg); err != nil {
		c.t.Fatalf("%s: sending: %v", c.user, err)
	}
}

func TestChatThroughThePubSubService(t *testing.T) {
	t.Parallel()
	for _, proxy := range []bool{false, true} {
		name := "browsers connect to the service directly"
		if proxy {
			name = "browsers connect through the chat server's proxy"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := startStack(t, proxy)
			if proxy {
				// The URL must point at the chat server, not the service.
				_, body := getNegotiate(t, st.chat.URL, "id=probe", nil)
				u, _ := parseAccessURL(t, body)
				if want := strings.TrimPrefix(st.chat.URL, "http://"); u.Host != want {
					t.Fatalf("proxied URL host %s, want the chat server %s", u.Host, want)
				}
			}

			alice := join(t, st.chat.URL, "alice")
			alice.expectNotice("alice joined")
			bob := join(t, st.chat.URL, "bob")
			alice.expectNotice("bob joined")
			bob.expectNotice("bob joined")

			const n = 25
			for i := range n {
				alice.send(fmt.Sprintf("message %d", i))
			}
			bob.send("hi alice")
			// Each sender's messages arrive in the order sent; bob's one
			// message may come anywhere among alice's.
			for _, c := range []*chatClient{alice, bob} {
				var fromAlice []string
				fromBob := 0
				for range n + 1 {
					d := c.next()
					switch d["from"] {
					case "alice":
						fromAlice = append(fromAlice, fmt.Sprint(d["message"]))
					case "bob":
						if d["message"] != "hi alice" {
							t.Fatalf("%s: bob's message is %v", c.user, d["message"])
						}
						fromBob++
					default:
						t.Fatalf("%s: unexpected %v", c.user, d)
					}
				}
				if fromBob != 1 || len(fromAlice) != n {
					t.Fatalf("%s: got %d of alice's and %d of bob's messages, want %d and 1", c.user, len(fromAlice), fromBob, n)
				}
				for i, m := range fromAlice {
					if want := fmt.Sprintf("message %d", i); m != want {
						t.Fatalf("%s: alice's message %d is %q, want %q (out of order)", c.user, i, m, want)
					}
				}
			}

			if err := bob.conn.Close(); err != nil {
				t.Fatalf("closing bob's connection: %v", err)
			}
			alice.expectNotice("bob left")
		})
	}
}

func TestForgedWebhookIsRefusedAndBroadcastsNothing(t *testing.T) {
	t.Parallel()
	st := startStack(t, false)
	alice := join(t, st.chat.URL, "alice")
	alice.expectNotice("alice joined")
	bob := join(t, st.chat.URL, "bob")
	alice.expectNotice("bob joined")
	bob.expectNotice("bob joined")

	forgeries := map[string]cloudEvent{
		"a message with a made-up signature": func() cloudEvent {
			e := messageEvent("mallory", "text/plain", "forged message")
			e.Signature = strPtr("sha256=" + strings.Repeat("ab", 32))
			return e
		}(),
		"a connected event without a signature": func() cloudEvent {
			e := connectedEvent("mallory")
			e.Signature = strPtr("")
			return e
		}(),
		"a message signed with another key": func() cloudEvent {
			e := messageEvent("mallory", "text/plain", "forged message")
			e.Signature = strPtr(webpubsub.Signature("some-other-key-of-at-least-32-chars!", "conn-mallory"))
			return e
		}(),
	}
	for name, e := range forgeries {
		resp, body := e.post(t, st.chat.URL)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401 (body %q)", name, resp.StatusCode, body)
		}
	}
	// Nothing was broadcast: the next thing both see is alice's marker.
	alice.send("marker")
	alice.expectChat("alice", "marker")
	bob.expectChat("alice", "marker")
}

func TestOversizedMessageIsRefusedToTheSenderOnly(t *testing.T) {
	t.Parallel()
	st := startStack(t, false)
	alice := join(t, st.chat.URL, "alice")
	alice.expectNotice("alice joined")
	bob := join(t, st.chat.URL, "bob")
	alice.expectNotice("bob joined")
	bob.expectNotice("bob joined")

	alice.send(strings.Repeat("x", MaxMessageChars+1))
	if d := alice.next(); d["type"] != "error" || d["code"] != "messageTooLong" {
		t.Fatalf("alice got %v, want the refusal", d)
	}
	alice.send("short")
	alice.expectChat("alice", "short")
	bob.expectChat("alice", "short") // bob never saw the long one
}

// lockedBuffer is an io.Writer safe to read while RunEmbedded writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestEmbeddedModeServesTheWholeChatOnOnePort(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Listen, cfg.MetricsListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Embedded = true
	var out lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- RunEmbedded(ctx, cfg, Options{Logger: testLogger(t)}, &out) }()

	var chatURL string
	deadline := time.Now().Add(15 * time.Second)
	for chatURL == "" && time.Now().Before(deadline) {
		for _, f := range strings.Fields(out.String()) {
			if strings.HasPrefix(f, "http://") {
				chatURL = strings.TrimSuffix(f, "/")
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if chatURL == "" {
		t.Fatalf("RunEmbedded printed no URL to open; output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Open ") {
		t.Errorf("the output does not tell how to open the chat:\n%s", out.String())
	}
	if page := getBody(t, chatURL+"/"); !strings.Contains(page, `id="join-form"`) {
		t.Fatalf("GET / did not serve the chat page")
	}
	if resp, err := http.Get(chatURL + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}

	alice := join(t, chatURL, "alice")
	alice.expectNotice("alice joined")
	bob := join(t, chatURL, "bob")
	alice.expectNotice("bob joined")
	bob.expectNotice("bob joined")
	bob.send("hello from the embedded service")
	alice.expectChat("bob", "hello from the embedded service")
	bob.expectChat("bob", "hello from the embedded service")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunEmbedded: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RunEmbedded did not return after its context was cancelled")
	}
}

// startEmbedded runs RunEmbedded with cfg until the test ends and returns
// the chat URL it prints.
func startEmbedded(t *testing.T, cfg Config) string {
	t.Helper()
	var out lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- RunEmbedded(ctx, cfg, Options{Logger: testLogger(t)}, &out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunEmbedded: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("RunEmbedded did not return after its context was cancelled")
		}
	})
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, f := range strings.Fields(out.String()) {
			if strings.HasPrefix(f, "http://") {
				return strings.TrimSuffix(f, "/")
			}
		}
	}
	t.Fatalf("RunEmbedded printed no URL to open; output:\n%s", out.String())
	return ""
}

func TestEmbeddedModeNegotiatesOnTheRequestsHost(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Listen, cfg.MetricsListen = "127.0.0.1:0", "127.0.0.1:0"
	chatURL := startEmbedded(t, cfg)
	printed, err := url.Parse(chatURL)
	if err != nil {
		t.Fatal(err)
	}
	// The page was opened from another machine, as chat.example.test:8080.
	const host = "chat.example.test:8080"
	negotiate := func(hdr map[string]string) *url.URL {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, chatURL+"/negotiate?id=carol", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var nr negotiateResponse
		if err := json.NewDecoder(resp.Body).Decode(&nr); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("negotiate: HTTP %d, %v", resp.StatusCode, err)
		}
		u, err := url.Parse(nr.URL)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	u := negotiate(nil)
	if u.Scheme != "ws" || u.Host != host || u.Path != "/client/hubs/chat" || u.Query().Get("access_token") == "" {
		t.Fatalf("negotiate answered %s://%s%s (token present: %t), want ws://%s/client/hubs/chat with a token",
			u.Scheme, u.Host, u.Path, u.Query().Get("access_token") != "", host)
	}
	// Behind a TLS-terminating proxy the browser needs wss, as with --proxy-client.
	if s := negotiate(map[string]string{"X-Forwarded-Proto": "https"}); s.Scheme != "wss" || s.Host != host {
		t.Errorf("behind an https proxy negotiate answered %s://%s, want wss://%s", s.Scheme, s.Host, host)
	}

	// The colleague's browser connects to that URL: the same path and query,
	// with Host naming chat.example.test, reach the embedded service over
	// loopback, and the token's audience verifies there.
	dialURL := url.URL{Scheme: "ws", Host: net.JoinHostPort("127.0.0.1", printed.Port()), Path: u.Path, RawQuery: u.RawQuery}
	d := websocket.Dialer{Subprotocols: []string{webpubsub.SubprotocolJSON}, HandshakeTimeout: 10 * time.Second}
	conn, hresp, err := d.Dial(dialURL.String(), http.Header{"Host": {host}})
	if err != nil {
		status := 0
		if hresp != nil {
			status = hresp.StatusCode
		}
		t.Fatalf("dialing the negotiated URL's path on loopback: %v (HTTP %d)", err, status)
	}
	c := &chatClient{t: t, user: "carol", conn: conn, frames: make(chan map[string]any, 4096)}
	go c.read()
	t.Cleanup(func() { _ = conn.Close() })
	if first := c.nextFrame(); first["type"] != "system" || first["event"] != "connected" {
		t.Fatalf("first frame %v, want the connected system message", first)
	}
	c.expectNotice("carol joined")
}
