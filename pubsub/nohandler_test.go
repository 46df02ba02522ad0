// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"testing"

	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

func TestAUserEventNoHandlerTakesDropsTheConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	err := e.srv.SetHubSettings(testHub, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{
		EventHandlers: []webpubsub.EventHandlerSettings{{URLTemplate: "http://127.0.0.1:1/{event}", UserEventPattern: "greet"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a JSON client", func(t *testing.T) {
		c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "u"})
		c.send(map[string]any{"type": "event", "event": "other", "dataType": "text", "data": "x", "ackId": 1})
		if code, reason := c.expectClose(); code != protocol.ClosePolicy || reason != protocol.ReasonNoEventHandler {
			t.Fatalf("close %d %q, want %d %q", code, reason, protocol.ClosePolicy, protocol.ReasonNoEventHandler)
		}
	})
	t.Run("a raw client", func(t *testing.T) {
		c := dial(t, e.clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "u"}))
		if err := c.ws.WriteMessage(1, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if code, _ := c.expectClose(); code != protocol.ClosePolicy {
			t.Fatalf("close %d, want %d", code, protocol.ClosePolicy)
		}
	})
}
