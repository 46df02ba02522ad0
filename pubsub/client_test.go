// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

func TestGroupPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := map[string]struct {
		roles       []string
		typ, group  string
		wantSuccess bool
	}{
		"join without a role is forbidden":     {nil, "joinGroup", "g", false},
		"join with the join role":              {[]string{webpubsub.RoleJoinLeaveGroup}, "joinGroup", "g", true},
		"join with the role for that group":    {[]string{webpubsub.RoleJoinLeaveGroup + ".g"}, "joinGroup", "g", true},
		"join with the role for another group": {[]string{webpubsub.RoleJoinLeaveGroup + ".h"}, "joinGroup", "g", false},
		"leave needs the join role too":        {nil, "leaveGroup", "g", false},
		"send without a role is forbidden":     {nil, "sendToGroup", "g", false},
		"send with the send role":              {[]string{webpubsub.RoleSendToGroup}, "sendToGroup", "g", true},
		"send with the role for that group":    {[]string{webpubsub.RoleSendToGroup + ".g"}, "sendToGroup", "g", true},
		"the join role does not allow sending": {[]string{webpubsub.RoleJoinLeaveGroup}, "sendToGroup", "g", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{Roles: tc.roles})
			c.send(map[string]any{"type": tc.typ, "group": tc.group, "ackId": 1, "dataType": "text", "data": "x"})
			ack := c.readUntil("ack")
			if ack["success"] != tc.wantSuccess {
				t.Fatalf("ack %v, want success=%v", ack, tc.wantSuccess)
			}
			if !tc.wantSuccess && ack["error"].(map[string]any)["name"] != "Forbidden" {
				t.Fatalf("ack error %v, want Forbidden", ack["error"])
			}
		})
	}
}

func TestSendToGroupWithAndWithoutEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	roles := []string{webpubsub.RoleJoinLeaveGroup, webpubsub.RoleSendToGroup}
	a, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "alice", Roles: roles})
	b, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "bob", Roles: roles})
	raw := dialRegistered(t, e, "raw", webpubsub.ClientTokenOptions{Groups: []string{"room"}})
	for i, c := range []*wsClient{a, b} {
		c.send(map[string]any{"type": "joinGroup", "group": "room", "ackId": i + 1})
		if ack := c.readUntil("ack"); ack["success"] != true {
			t.Fatalf("join failed: %v", ack)
		}
	}
	a.send(map[string]any{"type": "sendToGroup", "group": "room", "noEcho": true, "dataType": "json", "data": map[string]any{"n": 1}, "ackId": 10})
	m := b.readUntil("message")
	if m["from"] != "group" || m["group"] != "room" || m["fromUserId"] != "alice" || m["dataType"] != "json" {
		t.Fatalf("bob got %v", m)
	}
	if _, data := raw.read(); string(data) != `{"n":1}` {
		t.Fatalf("raw member got %q", data)
	}
	if ack := a.readJSON(); ack["type"] != "ack" || ack["success"] != true {
		t.Fatalf("alice's next frame %v is not her ack: noEcho was ignored", ack)
	}
	a.send(map[string]any{"type": "sendToGroup", "group": "room", "dataType": "text", "data": "echo", "ackId": 11})
	if m := a.readUntil("message"); m["data"] != "echo" {
		t.Fatalf("alice did not get her echo: %v", m)
	}
}

func TestAckDuplicateDetection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{Roles: []string{webpubsub.RoleJoinLeaveGroup}})
	c.send(map[string]any{"type": "joinGroup", "group": "g", "ackId": 5})
	if ack := c.readUntil("ack"); ack["success"] != true {
		t.Fatalf("first ack %v", ack)
	}
	c.send(map[string]any{"type": "joinGroup", "group": "g", "ackId": 5})
	ack := c.readUntil("ack")
	if ack["success"] != false || ack["error"].(map[string]any)["name"] != "Duplicate" {
		t.Fatalf("second ack %v, want Duplicate", ack)
	}
}

func TestInvalidMessageWithAckIDGetsBadRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{})
	c.send(map[string]any{"type": "joinGroup", "ackId": 3})
	ack := c.readUntil("ack")
	if ack["success"] != false || ack["error"].(map[string]any)["name"] != "BadRequest" {
		t.Fatalf("ack %v, want BadRequest", ack)
	}
	c.send(map[string]any{"type": "ping"})
	if m := c.readJSON(); m["type"] != "pong" {
		t.Fatalf("connection unusable after a bad message: %v", m)
	}
}

func TestPingGetsPong(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSONReliable, webpubsub.ClientTokenOptions{})
	c.send(map[string]any{"type": "ping"})
	if m := c.readJSON(); m["type"] != "pong" {
		t.Fatalf("got %v, want pong", m)
	}
}

func TestRESTPayloadsReachEachKindOfClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	raw := dialRegistered(t, e, "raw", webpubsub.ClientTokenOptions{})
	js, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{})
	json2, err := webpubsub.JSONContent(map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		content  webpubsub.Content
		rawType  int
		rawData  string
		dataType string
		data     any
	}{
		{"text", webpubsub.TextContent("hello"), websocket.TextMessage, "hello", "text", "hello"},
		{"json", json2, websocket.TextMessage, `{"k":"v"}`, "json", map[string]any{"k": "v"}},
		{"binary", webpubsub.BinaryContent([]byte{1, 2}), websocket.BinaryMessage, "\x01\x02", "binary", "AQI="},
	}
	for _, tc := range tests {
		if err := e.rest.SendToAll(ctx(t), tc.content, nil); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		mt, data := raw.read()
		if mt != tc.rawType || string(data) != tc.rawData {
			t.Fatalf("%s: raw client got type %d %q", tc.name, mt, data)
		}
		m := js.readJSON()
		if m["type"] != "message" || m["from"] != "server" || m["dataType"] != tc.dataType {
			t.Fatalf("%s: JSON client got %v", tc.name, m)
		}
		if got, want := m["data"], tc.data; !equalJSON(got, want) {
			t.Fatalf("%s: data %v, want %v", tc.name, got, want)
		}
	}
}

func equalJSON(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		if len(am) != len(bm) {
			return false
		}
		for k := range am {
			if am[k] != bm[k] {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestFrameLimitClosesWith1009(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{})
	big := strings.Repeat("x", protocol.MaxFrameBytes+1)
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.expectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

func TestSlowClientIsClosedAndMemoryStaysBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.MaxQueueFrames = 8; c.WriteTimeout = time.Second })
	c := dial(t, e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "slow"}))
	// The client never reads: the socket buffers fill, the writer stalls, the queue overflows.
	payload := webpubsub.BinaryContent(make([]byte, 256<<10))
	for i := 0; i < 200 && e.srv.reg.Hub(testHub).HasUser("slow"); i++ {
		if err := e.rest.SendToUser(ctx(t), "slow", payload, nil); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the slow client to be dropped", func() bool { return !e.srv.reg.Hub(testHub).HasUser("slow") })
	var code int
	var text string
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ws.ReadMessage()
		// 1006 is gorilla's report of a socket dropped mid-frame (unexpected EOF), not a
		// close code the server sent: like any other read error it means the server gave up
		// on the close handshake, which a client that never reads can make happen.
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
			code, text = ce.Code, ce.Text
			break
		}
		if err != nil {
			break
		}
	}
	if code != 0 && (code != protocol.ClosePolicy || text != protocol.ReasonSlowClient) {
		t.Fatalf("close %d %q, want 1008 SlowClient", code, text)
	}
}

func TestKeepAlivePingsAndPingTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.KeepAlive = 50 * time.Millisecond })
	pings := make(chan struct{}, 10)
	c := dial(t, e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "quiet"}))
	c.ws.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil // never answer: the server must time the client out
	})
	go func() {
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pings:
	case <-time.After(5 * time.Second):
		t.Fatal("no keep-alive ping")
	}
	eventually(t, "the silent client to be dropped", func() bool { return !e.srv.reg.Hub(testHub).HasUser("quiet") })
}

func TestGracefulShutdownClosesWith1001(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{})
	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(ctx(t)) }()
	if m := c.readJSON(); m["event"] != "disconnected" {
		t.Fatalf("got %v, want the disconnected message", m)
	}
	if code, _ := c.expectClose(); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, resp, err := tryDial(e.clientURL(t, testHub, webpubsub.ClientTokenOptions{}), nil); err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("a connection after shutdown got %v, want 503", resp)
	}
}
