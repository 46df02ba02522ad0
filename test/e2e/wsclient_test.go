// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsUser is one chat user speaking the Web PubSub JSON subprotocol over a
// plain WebSocket, as the chat UI does: GET /negotiate on the chat server,
// then a WebSocket to the URL it returns. Unlike a browser it records every
// close code it gets and never reconnects on its own.
type wsUser struct {
	t    *testing.T
	name string

	mu      sync.Mutex
	conn    *websocket.Conn
	ready   bool     // the service said connected on the current connection
	msgs    []entry  // chat messages and notices, over all connections
	closes  []int    // close codes received, over all connections
	errs    []string // chat errors the server sent to this user
	readEnd chan struct{}
}

// negotiate asks the chat server at chatURL for a client URL for the user.
func negotiate(t *testing.T, chatURL, name string) string {
	t.Helper()
	var clientURL string
	eventually(t, time.Minute, "negotiate for "+name+" at "+chatURL, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, chatURL+"/negotiate?id="+url.QueryEscape(name), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		var body struct {
			URL string `json:"url"`
		}
		if resp.StatusCode != http.StatusOK {
			return resp.Status
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.URL == "" {
			return fmt.Sprintf("bad negotiate answer (%v)", err)
		}
		clientURL = body.URL
		return ""
	})
	return clientURL
}

// wsJoin negotiates at chatURL and connects. With via set ("http://127.0.0.1:port"),
// the WebSocket goes to via's host instead of the one the chat server
// returned (same path and token).
func wsJoin(t *testing.T, chatURL, via, name string) *wsUser {
	t.Helper()
	u := &wsUser{t: t, name: name}
	u.connect(negotiate(t, chatURL, name), via)
	t.Cleanup(u.close)
	return u
}

// connect dials clientURL (through via when set), retrying refused or failed
// handshakes for a minute, and waits for the service's connected message.
func (u *wsUser) connect(clientURL, via string) {
	u.t.Helper()
	target, err := url.Parse(clientURL)
	if err != nil {
		u.t.Fatalf("%s: negotiate returned %q: %v", u.name, clientURL, err)
	}
	if via != "" {
		v, err := url.Parse(via)
		if err != nil {
			u.t.Fatal(err)
		}
		target.Host = v.Host
	}
	if target.Scheme == "http" {
		target.Scheme = "ws"
	}
	dialer := websocket.Dialer{Subprotocols: []string{"json.webpubsub.azure.v1"}, HandshakeTimeout: 10 * time.Second}
	var conn *websocket.Conn
	eventually(u.t, time.Minute, u.name+" opens a WebSocket to "+target.Host+target.Path, func() string {
		c, resp, err := dialer.Dial(target.String(), nil)
		if err != nil {
			if resp != nil {
				return fmt.Sprintf("%v (HTTP %s)", err, resp.Status)
			}
			return err.Error()
		}
		conn = c
		return ""
	})
	u.mu.Lock()
	u.conn, u.ready, u.readEnd = conn, false, make(chan struct{})
	end := u.readEnd
	u.mu.Unlock()
	go u.read(conn, end)
	eventually(u.t, 30*time.Second, u.name+" is connected", func() string {
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.ready {
			return ""
		}
		select {
		case <-end:
			return fmt.Sprintf("the connection ended (close codes %v)", u.closes)
		default:
		}
		return "no connected message yet"
	})
}

// read records what one connection receives until it ends.
func (u *wsUser) read(conn *websocket.Conn, end chan struct{}) {
	defer close(end)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				u.mu.Lock()
				u.closes = append(u.closes, ce.Code)
				u.mu.Unlock()
			}
			return
		}
		var m struct {
			Type  string          `json:"type"`
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		u.mu.Lock()
		switch {
		case m.Type == "system" && m.Event == "connected":
			u.ready = true
		case m.Type == "message":
			var d struct {
				Type    string `json:"type"`
				From    string `json:"from"`
				Message string `json:"message"`
			}
			if json.Unmarshal(m.Data, &d) == nil {
				switch d.Type {
				case "system":
					u.msgs = append(u.msgs, entry{Kind: "notice", Text: d.Message})
				case "error":
					u.errs = append(u.errs, d.Message)
				default:
					u.msgs = append(u.msgs, entry{Kind: "msg", From: d.From, Text: d.Message})
				}
			}
		}
		u.mu.Unlock()
	}
}

// say sends a chat message on the current connection.
func (u *wsUser) say(text string) {
	u.t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	msg := map[string]string{"type": "event", "event": "message", "dataType": "text", "data": text}
	_ = u.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := u.conn.WriteJSON(msg); err != nil {
		u.t.Fatalf("%s: sending %q: %v (close codes %v)", u.name, text, err, u.closes)
	}
}

// count returns how many chat messages with text from from the user received.
func (u *wsUser) count(from, text string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, e := range u.msgs {
		if e.Kind == "msg" && e.From == from && e.Text == text {
			n++
		}
	}
	return n
}

// waitFor waits until the user has received text from from.
func (u *wsUser) waitFor(from, text string) {
	u.t.Helper()
	eventually(u.t, 30*time.Second, fmt.Sprintf("%s receives %q from %s", u.name, text, from), func() string {
		if u.count(from, text) > 0 {
			return ""
		}
		return u.state()
	})
}

// mentions reports whether any message or notice the user received contains s.
func (u *wsUser) mentions(s string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, e := range u.msgs {
		if strings.Contains(e.Text, s) || strings.Contains(e.From, s) {
			return true
		}
	}
	return false
}

// refusals returns the chat errors the server sent to the user (a message not sent).
func (u *wsUser) refusals() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.errs...)
}

// closeCodes returns the close codes the user's connections received.
func (u *wsUser) closeCodes() []int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]int(nil), u.closes...)
}

// ended reports whether the current connection has ended.
func (u *wsUser) ended() bool {
	u.mu.Lock()
	end := u.readEnd
	u.mu.Unlock()
	select {
	case <-end:
		return true
	default:
		return false
	}
}

// state describes what the user received, for failure messages.
func (u *wsUser) state() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return fmt.Sprintf("%s received %s, errors %q, close codes %v", u.name, summary(u.msgs), u.errs, u.closes)
}

// close closes the current connection and waits for its reader.
func (u *wsUser) close() {
	u.mu.Lock()
	conn, end := u.conn, u.readEnd
	u.mu.Unlock()
	if conn == nil {
		return
	}
	_ = conn.Close()
	select {
	case <-end:
	case <-time.After(10 * time.Second):
	}
}
