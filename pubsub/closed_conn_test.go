// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// connEvents records, per connection, the events its handler received in order.
type connEvents struct {
	mu     sync.Mutex
	events map[string][]string
}

func (l *connEvents) add(conn, event string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.events == nil {
		l.events = map[string][]string{}
	}
	l.events[conn] = append(l.events[conn], event)
}

func (l *connEvents) of(conn string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events[conn]...)
}

// A flooding client closed by the service goes on writing until its socket really ends; none
// of those frames may reach the event handler after the connection's disconnected event.
func TestNoEventAfterDisconnected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 1e6, 1e6 })
	var log connEvents
	e.handlerServer(t, webpubsub.EventHandlerOptions{
		OnConnected: func(_ context.Context, req *webpubsub.ConnectedRequest) {
			log.add(req.Context.ConnectionID, "connected")
		},
		OnDisconnected: func(_ context.Context, req *webpubsub.DisconnectedRequest) {
			log.add(req.Context.ConnectionID, "disconnected")
		},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			log.add(req.Context.ConnectionID, "message")
			return nil, nil
		},
	}, "connected", "disconnected")

	c, connected := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "flooder"})
	id, _ := connected["connectionId"].(string)
	frame, err := json.Marshal(map[string]any{"type": "event", "event": "message", "dataType": "text", "data": "flood"})
	if err != nil {
		t.Fatal(err)
	}
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		// Writes until the service has really closed the socket.
		for c.ws.WriteMessage(websocket.TextMessage, frame) == nil {
		}
	}()
	eventually(t, "the flood to reach the handler", func() bool { return len(log.of(id)) > 10 })
	if err := e.rest.CloseConnection(ctx(t), id, "enough"); err != nil {
		t.Fatalf("CloseConnection: %v", err)
	}
	<-flooded
	eventually(t, "the socket's reader to end", func() bool { return e.srv.transport.Sockets() == 0 })
	eventually(t, "the disconnected event", func() bool {
		ev := log.of(id)
		for _, x := range ev {
			if x == "disconnected" {
				return true
			}
		}
		return false
	})
	// Anything still queued upstream has had the time the disconnected event took.
	if err := e.srv.disp.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	ev := log.of(id)
	if ev[len(ev)-1] != "disconnected" {
		n := 0
		for i := len(ev) - 1; i >= 0 && ev[i] != "disconnected"; i-- {
			n++
		}
		t.Fatalf("%d events reached the handler after disconnected", n)
	}
}
