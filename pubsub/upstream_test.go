// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// eventLog records the events a handler received.
type eventLog struct {
	mu     sync.Mutex
	events []string
	reason string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) count(e string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.events {
		if x == e {
			n++
		}
	}
	return n
}

func TestConnectHandlerShapesTheConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var gotSubprotocols []string
	var mu sync.Mutex
	e.handlerServer(t, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			mu.Lock()
			gotSubprotocols = req.Subprotocols
			mu.Unlock()
			if req.Query["name"] == nil {
				return nil, &webpubsub.EventError{StatusCode: http.StatusUnauthorized, Message: "who are you?"}
			}
			if req.Query["name"][0] == "mallory" {
				return nil, &webpubsub.EventError{StatusCode: http.StatusForbidden, Message: "no"}
			}
			return &webpubsub.ConnectResponse{
				UserID: req.Query["name"][0], Groups: []string{"lobby"},
				Roles: []string{webpubsub.RoleSendToGroup}, Subprotocol: webpubsub.SubprotocolJSON,
			}, nil
		},
	}, "connect")
	base := e.clientURL(t, testHub, webpubsub.ClientTokenOptions{})

	c := dial(t, base+"&name=carol", webpubsub.SubprotocolJSONReliable, webpubsub.SubprotocolJSON)
	if c.ws.Subprotocol() != webpubsub.SubprotocolJSON {
		t.Fatalf("subprotocol %q, want the handler's choice", c.ws.Subprotocol())
	}
	if m := c.readJSON(); m["userId"] != "carol" {
		t.Fatalf("connected %v, want the handler's user id", m)
	}
	mu.Lock()
	if len(gotSubprotocols) != 2 {
		t.Errorf("handler saw subprotocols %v", gotSubprotocols)
	}
	mu.Unlock()
	c.send(map[string]any{"type": "sendToGroup", "group": "lobby", "dataType": "text", "data": "hi", "ackId": 1})
	if m := c.readUntil("message"); m["group"] != "lobby" || m["data"] != "hi" {
		t.Fatalf("got %v: the connection is not in the handler's group or lacks its role", m)
	}

	for name, tc := range map[string]struct {
		url    string
		status int
	}{
		"a 401 from the handler refuses with 401": {base, http.StatusUnauthorized},
		"a 403 from the handler refuses with 403": {base + "&name=mallory", http.StatusForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			_, resp, err := tryDial(tc.url, nil)
			if err == nil || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("got %v, want HTTP %d", resp, tc.status)
			}
		})
	}
}

func TestUserEventReplyComesBeforeTheAck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.handlerServer(t, webpubsub.EventHandlerOptions{
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			if req.Context.EventName == "fail" {
				return nil, &webpubsub.EventError{StatusCode: 500, Message: "boom"}
			}
			return &webpubsub.UserEventResponse{Data: append([]byte("echo:"), req.Data...), ContentType: webpubsub.ContentTypeText}, nil
		},
	})
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "u"})
	c.send(map[string]any{"type": "event", "event": "greet", "dataType": "text", "data": "hi", "ackId": 1})
	if m := c.readJSON(); m["type"] != "message" || m["from"] != "server" || m["data"] != "echo:hi" {
		t.Fatalf("first frame %v, want the reply", m)
	}
	if m := c.readJSON(); m["type"] != "ack" || m["success"] != true {
		t.Fatalf("second frame %v, want the ack", m)
	}
	c.send(map[string]any{"type": "event", "event": "fail", "dataType": "text", "data": "x", "ackId": 2})
	ack := c.readUntil("ack")
	if ack["success"] != false || ack["error"].(map[string]any)["name"] != "InternalServerError" {
		t.Fatalf("ack %v, want InternalServerError", ack)
	}
}

func TestRawClientFramesAreMessageEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.handlerServer(t, webpubsub.EventHandlerOptions{
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			if req.Context.EventName != "message" {
				return nil, &webpubsub.EventError{StatusCode: 400, Message: "unexpected event"}
			}
			return &webpubsub.UserEventResponse{Data: req.Data, ContentType: req.ContentType}, nil
		},
	})
	c := dial(t, e.clientURL(t, testHub, webpubsub.ClientTokenOptions{}))
	for _, tc := range []struct {
		mt   int
		data string
	}{{websocket.TextMessage, "text frame"}, {websocket.BinaryMessage, "\x00\x01"}} {
		if err := c.ws.WriteMessage(tc.mt, []byte(tc.data)); err != nil {
			t.Fatal(err)
		}
		mt, data := c.read()
		if mt != tc.mt || string(data) != tc.data {
			t.Fatalf("reply type %d %q, want type %d %q", mt, data, tc.mt, tc.data)
		}
	}
}

func TestConnectedAndDisconnectedEventsFireOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	log := &eventLog{}
	e.handlerServer(t, webpubsub.EventHandlerOptions{
		OnConnected: func(_ context.Context, req *webpubsub.ConnectedRequest) { log.add("connected:" + req.Context.UserID) },
		OnDisconnected: func(_ context.Context, req *webpubsub.DisconnectedRequest) {
			log.mu.Lock()
			log.reason = req.Reason
			log.mu.Unlock()
			log.add("disconnected:" + req.Context.UserID)
		},
	}, "connected", "disconnected")
	c, m := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "dora"})
	eventually(t, "the connected event", func() bool { return log.count("connected:dora") == 1 })
	if err := e.rest.CloseConnection(ctx(t), m["connectionId"].(string), "kicked"); err != nil {
		t.Fatal(err)
	}
	if msg := c.readJSON(); msg["event"] != "disconnected" || msg["message"] != "kicked" {
		t.Fatalf("got %v, want the disconnected message with the reason", msg)
	}
	c.expectClose()
	eventually(t, "the disconnected event", func() bool { return log.count("disconnected:dora") == 1 })
	log.mu.Lock()
	reason := log.reason
	log.mu.Unlock()
	if reason != "kicked" {
		t.Fatalf("disconnected reason %q, want kicked", reason)
	}
	c.expectSilence(100e6)
	if n := log.count("disconnected:dora"); n != 1 {
		t.Fatalf("disconnected fired %d times", n)
	}
}

func TestConnectionStateTravelsBetweenEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.handlerServer(t, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			if err := req.Context.SetState("nick", "neo"); err != nil {
				return nil, err
			}
			return &webpubsub.ConnectResponse{}, nil
		},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			return &webpubsub.UserEventResponse{Data: req.Context.States["nick"], ContentType: webpubsub.ContentTypeJSON}, nil
		},
	}, "connect")
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{})
	c.send(map[string]any{"type": "event", "event": "whoami", "dataType": "text", "data": ""})
	if m := c.readUntil("message"); m["data"] != "neo" {
		t.Fatalf("reply %v, want the state set at connect", m)
	}
}
