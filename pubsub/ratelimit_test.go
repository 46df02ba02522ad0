// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"testing"

	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// A client that sends more messages than its rate and burst allow is closed with 1008 and
// the reason RateLimited, which its disconnected message also carries.
func TestRateLimitClosesAFloodingConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 1, 5 })
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "flooder"})
	for range 20 {
		if c.ws.WriteJSON(map[string]any{"type": "ping"}) != nil {
			break // the service has closed the socket
		}
	}
	var disconnected map[string]any
	for {
		m := c.readJSON()
		if m["type"] == "system" && m["event"] == "disconnected" {
			disconnected = m
			break
		}
	}
	if disconnected["message"] != protocol.ReasonRateLimited {
		t.Fatalf("disconnected message %v, want reason %s", disconnected, protocol.ReasonRateLimited)
	}
	code, reason := c.expectClose()
	if code != protocol.ClosePolicy || reason != protocol.ReasonRateLimited {
		t.Fatalf("closed with %d %q, want %d %q", code, reason, protocol.ClosePolicy, protocol.ReasonRateLimited)
	}
}

// Within the burst, a client is served as usual.
func TestRateLimitAllowsTheBurst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.RateLimit, c.RateBurst = 1, 5 })
	c, _ := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "calm"})
	for range 5 {
		c.send(map[string]any{"type": "ping"})
		if m := c.readJSON(); m["type"] != "pong" {
			t.Fatalf("got %v, want a pong", m)
		}
	}
}
