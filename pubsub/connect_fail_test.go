// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// A connect the handler accepted is always followed by disconnected, even when the service
// then fails the handshake itself (protocol doc §3.4): the app may have counted the user in.
func TestHandshakeFailingAfterAnAcceptedConnectFiresDisconnected(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"a subprotocol the client did not offer": `{"subprotocol":"json.other.v1"}`,
		"a group name that is only spaces":       `{"groups":["   "]}`,
	}
	for name, answer := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			var disconnected atomic.Int32
			h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodOptions {
					w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
					return
				}
				switch r.Header.Get(webpubsub.HeaderType) {
				case webpubsub.EventTypeConnect:
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(answer))
				case webpubsub.EventTypeDisconnected:
					disconnected.Add(1)
				}
			}))
			t.Cleanup(h.Close)
			err := e.srv.SetHubSettings(testHub, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{
				EventHandlers: []webpubsub.EventHandlerSettings{{
					URLTemplate: h.URL + "/{event}", SystemEvents: []string{"connect", "disconnected"},
				}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			_, resp, err := tryDial(e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "u"}), nil, webpubsub.SubprotocolJSON)
			if err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("handshake: %v, %v; want HTTP 500", resp, err)
			}
			eventually(t, "the disconnected event", func() bool { return disconnected.Load() == 1 })
		})
	}
}

func TestARefusedConnectTellsTheClientTheHandlersReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.handlerServer(t, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			if req.Query["fail"] != nil {
				return nil, errors.New("database password is hunter2")
			}
			return nil, &webpubsub.EventError{StatusCode: http.StatusForbidden, Message: "the room is full"}
		},
	}, "connect")
	base := e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "u"})
	tests := map[string]struct {
		url, want, notWant string
		status             int
	}{
		"a 403 carries the handler's message":           {base, "the room is full", "", http.StatusForbidden},
		"a handler failure does not show its internals": {base + "&fail=1", "rejected", "hunter2", http.StatusInternalServerError},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			c, resp, err := d.Dial(tc.url, nil)
			if err == nil {
				_ = c.Close()
				t.Fatal("the handshake succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("handshake answer %v, want HTTP %d", resp, tc.status)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), tc.want) || (tc.notWant != "" && strings.Contains(string(body), tc.notWant)) {
				t.Fatalf("body %q, want it to contain %q and not %q", body, tc.want, tc.notWant)
			}
		})
	}
}
