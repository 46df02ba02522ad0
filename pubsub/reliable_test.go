// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"net/url"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// recoveryURL adds the recovery parameters to a client URL.
func recoveryURL(t *testing.T, base, connID, token string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("awps_connection_id", connID)
	q.Set("awps_reconnection_token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestReliableSequenceIDsAndRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	base := e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "alice"})
	c := dial(t, base, webpubsub.SubprotocolJSONReliable)
	connected := c.readJSON()
	connID, token := connected["connectionId"].(string), connected["reconnectionToken"].(string)

	for _, s := range []string{"one", "two"} {
		if err := e.rest.SendToUser(ctx(t), "alice", webpubsub.TextContent(s), nil); err != nil {
			t.Fatal(err)
		}
	}
	if m := c.readJSON(); m["sequenceId"] != 1.0 || m["data"] != "one" {
		t.Fatalf("first message %v, want sequenceId 1", m)
	}
	if m := c.readJSON(); m["sequenceId"] != 2.0 || m["data"] != "two" {
		t.Fatalf("second message %v, want sequenceId 2", m)
	}
	c.send(map[string]any{"type": "sequenceAck", "sequenceId": 1})
	c.send(map[string]any{"type": "ping"})
	c.readUntil("pong") // the ack has been processed

	// Drop the socket without a close frame, then send while the client is away.
	_ = c.ws.NetConn().Close()
	eventually(t, "the socket to be detached", func() bool {
		conn := e.srv.reg.Hub(testHub).Conn(connID)
		return conn != nil && !conn.Pending(nil) && e.srv.transport.Sockets() == 0
	})
	if err := e.rest.SendToUser(ctx(t), "alice", webpubsub.TextContent("three"), nil); err != nil {
		t.Fatal(err)
	}

	r := dial(t, recoveryURL(t, base, connID, token), webpubsub.SubprotocolJSONReliable)
	if m := r.readJSON(); m["event"] != "connected" || m["connectionId"] != connID {
		t.Fatalf("recovered socket starts with %v", m)
	}
	// Message 1 was acknowledged; 2 was not and comes again; 3 arrived while away.
	for _, want := range []struct {
		seq  float64
		data string
	}{{2, "two"}, {3, "three"}} {
		if m := r.readJSON(); m["sequenceId"] != want.seq || m["data"] != want.data {
			t.Fatalf("got %v, want sequenceId %v %q", m, want.seq, want.data)
		}
	}
	if exists, err := e.rest.ConnectionExists(ctx(t), connID); err != nil || !exists {
		t.Fatalf("ConnectionExists = %v, %v after recovery", exists, err)
	}
}

func TestRecoveryFailsWith1008(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	base := e.clientURL(t, testHub, webpubsub.ClientTokenOptions{})
	c := dial(t, base, webpubsub.SubprotocolJSONReliable)
	connID := c.readJSON()["connectionId"].(string)
	tests := map[string]string{
		"a wrong reconnection token": recoveryURL(t, base, connID, "wrong"),
		"an unknown connection":      recoveryURL(t, base, "nope", "tok"),
	}
	for name, u := range tests {
		t.Run(name, func(t *testing.T) {
			r := dial(t, u, webpubsub.SubprotocolJSONReliable)
			if code, _ := r.expectClose(); code != protocol.ClosePolicy {
				t.Fatalf("close code %d, want 1008", code)
			}
		})
	}
}

func TestReliableConnectionClosedByClientIsNotKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := dial(t, e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "leaver"}), webpubsub.SubprotocolJSONReliable)
	c.readJSON()
	_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
	eventually(t, "the connection to close for good", func() bool { return !e.srv.reg.Hub(testHub).HasUser("leaver") })
}

func TestReliableBufferOverflowCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.MaxUnackedFrames = 3 })
	c := dial(t, e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "u"}), webpubsub.SubprotocolJSONReliable)
	c.readJSON()
	for i := range 4 {
		if err := e.rest.SendToUser(ctx(t), "u", webpubsub.TextContent("m"), nil); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for range 3 {
		c.readUntil("message")
	}
	c.readUntil("system") // disconnected
	if code, text := c.expectClose(); code != protocol.ClosePolicy || text != protocol.ReasonBufferFull {
		t.Fatalf("close %d %q, want 1008 %s", code, text, protocol.ReasonBufferFull)
	}
}
