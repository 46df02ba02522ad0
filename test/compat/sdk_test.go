// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package compat

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// TestServiceSDK runs @azure/web-pubsub against the service: client tokens, send to all /
// user / group, group membership, excluded and filter, close.
func TestServiceSDK(t *testing.T) {
	t.Parallel()
	testServiceSDK(t, startService(t))
}

// TestServiceSDKReplicas is TestServiceSDK against three replicas sharing their hubs through
// NATS behind a round-robin proxy.
func TestServiceSDKReplicas(t *testing.T) {
	t.Parallel()
	testServiceSDK(t, startReplicas(t))
}

func testServiceSDK(t *testing.T, svc *service) {
	n := startNode(t, "service_sdk.js", map[string]string{"CONNECTION_STRING": svc.connectionString, "HUB": "sdkhub"})
	n.expectOK(t, 90*time.Second)
}

// TestWebPubSubClientSDK runs @azure/web-pubsub-client (reliable JSON protocol) against the
// service: connect, join, send to a group, an event with its reply, and recovery after a
// dropped socket without losing a message.
func TestWebPubSubClientSDK(t *testing.T) {
	t.Parallel()
	testWebPubSubClientSDK(t, startService(t))
}

// TestWebPubSubClientSDKReplicas is TestWebPubSubClientSDK against three replicas behind a
// round-robin proxy; the recovering client goes back to its replica (see proxy).
func TestWebPubSubClientSDKReplicas(t *testing.T) {
	t.Parallel()
	testWebPubSubClientSDK(t, startReplicas(t))
}

func testWebPubSubClientSDK(t *testing.T, svc *service) {
	const hub = "clienthub"
	n := startNode(t, "client_sdk.js", map[string]string{"CONNECTION_STRING": svc.connectionString, "HUB": hub})
	port := n.next(t, 60*time.Second)["port"]
	if port == nil {
		t.Fatal("client_sdk.js did not report its handler port")
	}
	svc.registerHandler(t, hub, fmt.Sprintf("http://127.0.0.1:%v/eventhandler/{event}", port))
	if _, err := n.stdin.Write([]byte("registered\n")); err != nil {
		t.Fatal(err)
	}
	n.expectOK(t, 120*time.Second)
}

// TestExpressEventHandler has @azure/web-pubsub-express receive the service's abuse
// protection request and the connect, connected, user and disconnected events of a Go client.
func TestExpressEventHandler(t *testing.T) {
	t.Parallel()
	testExpressEventHandler(t, startService(t))
}

// TestExpressEventHandlerReplicas is TestExpressEventHandler against three replicas behind a
// round-robin proxy: the event handler registered through one replica serves them all.
func TestExpressEventHandlerReplicas(t *testing.T) {
	t.Parallel()
	testExpressEventHandler(t, startReplicas(t))
}

func testExpressEventHandler(t *testing.T, svc *service) {
	const hub = "expresshub"
	n := startNode(t, "express_handler.js", map[string]string{"HUB": hub, "ENDPOINT": svc.endpoint})
	port := n.next(t, 60*time.Second)["port"]
	if port == nil {
		t.Fatal("express_handler.js did not report its port")
	}
	svc.registerHandler(t, hub, fmt.Sprintf("http://127.0.0.1:%v/eventhandler/{event}", port))

	ep, _ := url.Parse(svc.endpoint)
	access, err := webpubsub.ClientAccessFor(ep, accessKey, hub, webpubsub.ClientTokenOptions{UserID: "dave"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dialer := websocket.Dialer{Subprotocols: []string{webpubsub.SubprotocolJSON}, HandshakeTimeout: 30 * time.Second}
	ws, res, err := dialer.Dial(access.URL, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dialing the service (status %d): %v", status, err)
	}
	defer func() { _ = ws.Close() }()

	read := func() map[string]any {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("reading from the service: %v", err)
		}
		return m
	}
	if m := read(); m["type"] != "system" || m["event"] != "connected" || m["userId"] != "express-dave" {
		t.Fatalf("first message = %v, want connected with the user id the connect handler chose", m)
	}
	for i, data := range []string{"hi", "again"} {
		ackID := i + 1
		if err := ws.WriteJSON(map[string]any{"type": "event", "event": "echo", "dataType": "text", "data": data, "ackId": ackID}); err != nil {
			t.Fatal(err)
		}
		gotReply, gotAck := false, false
		for !gotReply || !gotAck {
			m := read()
			switch m["type"] {
			case "message":
				if m["from"] != "server" || m["dataType"] != "text" || m["data"] != "echo:"+data {
					t.Fatalf("reply = %v, want the server message echo:%s", m, data)
				}
				gotReply = true
			case "ack":
				if m["ackId"] != float64(ackID) || m["success"] != true {
					t.Fatalf("ack = %v, want success for ackId %d", m, ackID)
				}
				gotAck = true
			}
		}
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(5*time.Second))

	// The handler's view, in order.
	var events []map[string]any
	for len(events) == 0 || events[len(events)-1]["event"] != "disconnected" {
		m := n.next(t, 60*time.Second)
		if m["event"] == "unhandled" {
			t.Fatalf("the express middleware did not take a request of the service: %v", m)
		}
		events = append(events, m)
	}
	var names []string
	for _, e := range events {
		names = append(names, e["event"].(string))
	}
	if want := []string{"validate", "connect", "connected", "user", "user", "disconnected"}; !slices.Equal(names, want) {
		t.Fatalf("the express handler saw %v, want %v; details: %s", names, want, dump(events))
	}
	v, conn, connected, user, disc := events[0], events[1], events[2], events[3], events[5]
	if v["path"] != "/eventhandler/validate" || v["origin"] != ep.Hostname() {
		t.Errorf("abuse protection request = %v, want /eventhandler/validate from %s", v, ep.Hostname())
	}
	if conn["userId"] != "dave" || !slices.Contains(toStrings(conn["subprotocols"]), webpubsub.SubprotocolJSON) || !slices.Contains(toStrings(conn["claimsSub"]), "dave") {
		t.Errorf("connect event = %v, want user dave with the JSON subprotocol and the sub claim", conn)
	}
	id := conn["connectionId"]
	if connected["connectionId"] != id || connected["userId"] != "express-dave" {
		t.Errorf("connected event = %v, want connection %v of express-dave", connected, id)
	}
	if user["name"] != "echo" || user["data"] != "hi" || user["dataType"] != "text" || user["greeting"] != "hello from connect" {
		t.Errorf("user event = %v, want echo/hi with the state set on connect", user)
	}
	if disc["connectionId"] != id || disc["events"] != float64(2) {
		t.Errorf("disconnected event = %v, want connection %v with the state of 2 user events", disc, id)
	}
}

func toStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
