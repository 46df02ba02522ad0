// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package hub

import (
	"fmt"
	"sync"
	"testing"

	"github.com/chathub/chathub/pubsub/protocol"
)

func TestLookingUpAHubCreatesNothing(t *testing.T) {
	r := NewRegistry(Config{})
	if h := r.Lookup("chat"); h != nil {
		t.Fatal("Lookup found a hub nobody is connected to")
	}
	h := r.Hub("chat")
	if h.Conn("c") != nil || h.HasUser("u") || h.HasGroup("g") || len(h.Conns()) != 0 {
		t.Fatal("an unknown hub is not empty")
	}
	if r.Hubs() != 0 || r.Lookup("chat") != nil {
		t.Fatalf("Hub created state: %d hubs", r.Hubs())
	}
}

func TestAHubIsReleasedWithItsLastConnection(t *testing.T) {
	r := NewRegistry(Config{})
	a, _ := register(t, r.Hub("Chat"), "a", "u", protocol.KindJSON)
	b, trB := register(t, r.Hub("chat"), "b", "u", protocol.KindJSONReliable)
	if err := b.Join("g"); err != nil {
		t.Fatal(err)
	}
	if r.Hubs() != 1 || a.Hub() != b.Hub() || r.Lookup("CHAT") != a.Hub() {
		t.Fatal("two connections of one hub name are not in one hub")
	}
	a.Close(protocol.CloseNormal, "bye")
	if r.Hubs() != 1 {
		t.Fatal("the hub left the registry while a connection was in it")
	}
	// A reliable connection waiting for recovery keeps its hub.
	b.SocketGone(trB, true, "lost")
	if r.Lookup("chat") == nil || r.Lookup("chat").Conn("b") != b {
		t.Fatal("the hub of a connection waiting for recovery is gone")
	}
	b.Close(protocol.ClosePolicy, protocol.ReasonRecoveryExpired)
	if r.Hubs() != 0 || r.Lookup("chat") != nil {
		t.Fatalf("%d hubs after the last connection closed, want 0", r.Hubs())
	}
	c, _ := register(t, r.Hub("chat"), "c", "", protocol.KindJSON)
	if r.Lookup("chat") != c.Hub() || r.Hubs() != 1 {
		t.Fatal("a connection to a released hub is not registered")
	}
}

// Connections registered and closed concurrently on one hub name always end up in the
// registry's hub, and the hub is released once all are closed.
func TestHubReleaseRacesWithRegistration(t *testing.T) {
	r := NewRegistry(Config{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				c, err := r.Hub("chat").Register(ConnOptions{ID: fmt.Sprintf("%d-%d", w, i), Transport: &memTransport{}})
				if err != nil {
					t.Error(err)
					return
				}
				if r.Lookup("chat") == nil || r.Lookup("chat").Conn(c.ID()) != c {
					t.Error("a registered connection is not in the registry's hub")
				}
				c.Close(protocol.CloseNormal, "bye")
			}
		})
	}
	wg.Wait()
	if r.Hubs() != 0 || r.Count() != 0 {
		t.Fatalf("%d hubs and %d connections left, want none", r.Hubs(), r.Count())
	}
}
