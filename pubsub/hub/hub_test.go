// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package hub

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/mapshrink"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// memTransport is an in-memory Transport that records what the hub asks of it.
type memTransport struct {
	mu       sync.Mutex
	notified int
	code     int
	reason   string
}

func (m *memTransport) Notify() { m.mu.Lock(); m.notified++; m.mu.Unlock() }
func (m *memTransport) Close(code int, reason string) {
	m.mu.Lock()
	m.code, m.reason = code, reason
	m.mu.Unlock()
}
func (m *memTransport) closed() (int, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.code, m.reason
}

func register(t *testing.T, h *Hub, id, user string, kind protocol.Kind) (*Conn, *memTransport) {
	t.Helper()
	tr := &memTransport{}
	c, err := h.Register(ConnOptions{ID: id, UserID: user, Kind: kind, Transport: tr, ReconnectionToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	return c, tr
}

func text(s string) *Message {
	return NewMessage(protocol.FromServer, "", "", webpubsub.ContentTypeText, []byte(s))
}

func TestCloseRemovesTheConnectionFromEveryIndex(t *testing.T) {
	var closedReason string
	r := NewRegistry(Config{OnClose: func(_ *Conn, reason string) { closedReason = reason }})
	h := r.Hub("Chat")
	c, tr := register(t, h, "c1", "u1", protocol.KindJSON)
	if err := c.Join("g"); err != nil {
		t.Fatal(err)
	}
	if r.Hub("chat") != h {
		t.Fatal("hub names must be case-insensitive")
	}
	if !h.HasGroup("g") || !h.HasUser("u1") || h.Conn("c1") != c || r.Count() != 1 {
		t.Fatal("the connection is not indexed")
	}
	c.Close(protocol.CloseNormal, "bye")
	c.Close(protocol.CloseNormal, "again")
	if h.HasGroup("g") || h.HasUser("u1") || h.Conn("c1") != nil || r.Count() != 0 {
		t.Fatal("the closed connection is still indexed")
	}
	if code, reason := tr.closed(); code != protocol.CloseNormal || reason != "bye" || closedReason != "bye" {
		t.Fatalf("close %d %q, OnClose %q", code, reason, closedReason)
	}
	if err := c.Join("h"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Join on a closed connection: %v", err)
	}
	if _, err := h.Register(ConnOptions{ID: "c2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Register(ConnOptions{ID: "c2"}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("duplicate id: %v", err)
	}
}

func TestSendQueueIsBounded(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		payload int
		sends   int
	}{
		"by frame count": {Config{MaxQueueFrames: 3}, 1, 4},
		"by bytes":       {Config{MaxQueueBytes: 100}, 60, 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := NewRegistry(tc.cfg)
			c, tr := register(t, r.Hub("h"), "c", "", protocol.KindRaw)
			var err error
			for range tc.sends {
				err = c.Send(NewMessage(protocol.FromServer, "", "", webpubsub.ContentTypeBinary, make([]byte, tc.payload)))
			}
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("last send: %v, want ErrClosed", err)
			}
			if code, reason := tr.closed(); code != protocol.ClosePolicy || reason != protocol.ReasonSlowClient {
				t.Fatalf("close %d %q, want 1008 SlowClient", code, reason)
			}
		})
	}
}

func TestDrainHandsFramesToTheCurrentTransportOnly(t *testing.T) {
	r := NewRegistry(Config{})
	c, tr := register(t, r.Hub("h"), "c", "", protocol.KindRaw)
	_ = c.Send(text("a"))
	_ = c.Send(text("b"))
	if got := c.Drain(&memTransport{}); got != nil {
		t.Fatalf("a stranger drained %d frames", len(got))
	}
	got := c.Drain(tr)
	if len(got) != 2 {
		t.Fatalf("drained %d frames, want 2", len(got))
	}
	if data, binary := got[1].Payload(protocol.KindRaw); string(data) != "b" || binary {
		t.Fatalf("second frame %q binary=%v", data, binary)
	}
	if c.Pending(tr) || c.Drain(tr) != nil {
		t.Fatal("the queue is not empty after Drain")
	}
}

func TestReliableBufferAndRecovery(t *testing.T) {
	r := NewRegistry(Config{RecoveryWindow: time.Hour})
	c, tr := register(t, r.Hub("h"), "c", "u", protocol.KindJSONReliable)
	for i := range 3 {
		_ = c.Send(text(fmt.Sprint(i)))
	}
	c.AckSequence(1)
	c.SocketGone(tr, true, "lost")
	if c.Closed() {
		t.Fatal("a dropped reliable connection must wait for recovery")
	}
	_ = c.Send(text("3")) // buffered while away
	if err := c.Resume(&memTransport{}, "wrong", nil); !errors.Is(err, ErrRecovery) {
		t.Fatalf("Resume with a wrong token: %v", err)
	}
	nt := &memTransport{}
	if err := c.Resume(nt, "tok", []byte("connected")); err != nil {
		t.Fatal(err)
	}
	frames := c.Drain(nt)
	var got []string
	for _, f := range frames {
		data, _ := f.Payload(protocol.KindJSONReliable)
		got = append(got, string(data))
	}
	want := []string{
		"connected",
		`{"sequenceId":2,"type":"message","from":"server","dataType":"text","data":"1"}`,
		`{"sequenceId":3,"type":"message","from":"server","dataType":"text","data":"2"}`,
		`{"sequenceId":4,"type":"message","from":"server","dataType":"text","data":"3"}`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replayed\n%v\nwant\n%v", got, want)
	}
	c.SocketGone(tr, true, "old socket") // the replaced socket must not detach the new one
	_ = c.Send(text("4"))
	if c.Closed() || !c.Pending(nt) {
		t.Fatal("the old socket disturbed the recovered connection")
	}
}

func TestRecoveryWindowExpires(t *testing.T) {
	done := make(chan string, 1)
	r := NewRegistry(Config{RecoveryWindow: 10 * time.Millisecond, OnClose: func(_ *Conn, reason string) { done <- reason }})
	c, tr := register(t, r.Hub("h"), "c", "", protocol.KindJSONReliable)
	c.SocketGone(tr, true, "lost")
	select {
	case reason := <-done:
		if reason != protocol.ReasonRecoveryExpired {
			t.Fatalf("reason %q", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the recovery window never expired")
	}
}

func TestNonReliableConnectionClosesWhenItsSocketGoes(t *testing.T) {
	r := NewRegistry(Config{})
	c, tr := register(t, r.Hub("h"), "c", "", protocol.KindJSON)
	c.SocketGone(tr, true, "lost")
	if !c.Closed() {
		t.Fatal("a JSON connection must close with its socket")
	}
}

func TestPermissions(t *testing.T) {
	r := NewRegistry(Config{})
	c, err := r.Hub("h").Register(ConnOptions{ID: "c", Roles: []string{"webpubsub.sendToGroup.a"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		perm, group string
		want        bool
	}{
		{"a role for one group allows it", PermSendToGroup, "a", true},
		{"a role for one group does not allow another", PermSendToGroup, "b", false},
		{"a send role does not allow joining", PermJoinLeaveGroup, "a", false},
	}
	for _, tc := range tests {
		if got := c.Allowed(tc.perm, tc.group); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
	c.Grant(PermJoinLeaveGroup, "b")
	c.Grant(PermJoinLeaveGroup, "")
	c.Revoke(PermJoinLeaveGroup, "")
	if c.Allowed(PermJoinLeaveGroup, "b") {
		t.Fatal("revoking every group must drop per-group grants")
	}
}

func TestAckIDHistoryIsBounded(t *testing.T) {
	r := NewRegistry(Config{})
	c, _ := register(t, r.Hub("h"), "c", "", protocol.KindJSON)
	if c.SeenAckID(1) || !c.SeenAckID(1) {
		t.Fatal("ack id 1 must be new, then a duplicate")
	}
	for i := uint64(2); i < ackHistory+10; i++ {
		c.SeenAckID(i)
	}
	if len(c.ackSeen) > ackHistory {
		t.Fatalf("%d ack ids remembered", len(c.ackSeen))
	}
}

func TestDeliverSharesOneEncoding(t *testing.T) {
	r := NewRegistry(Config{})
	h := r.Hub("h")
	var conns []*Conn
	var trs []*memTransport
	for i, kind := range []protocol.Kind{protocol.KindRaw, protocol.KindJSON, protocol.KindJSON, protocol.KindJSONReliable} {
		c, tr := register(t, h, fmt.Sprint(i), "", kind)
		conns, trs = append(conns, c), append(trs, tr)
	}
	m := text("x")
	if n := Deliver(conns, m, func(c *Conn) bool { return c.ID() == "0" }); n != 3 {
		t.Fatalf("delivered to %d, want 3", n)
	}
	if conns[0].Pending(trs[0]) {
		t.Fatal("the skipped connection got the message")
	}
	d1, _ := conns[1].Drain(trs[1])[0].Payload(protocol.KindJSON)
	d2, _ := conns[2].Drain(trs[2])[0].Payload(protocol.KindJSON)
	if &d1[0] != &d2[0] || &d1[0] != &m.JSON[0] {
		t.Fatal("JSON connections do not share the one encoding")
	}
	d3, _ := conns[3].Drain(trs[3])[0].Payload(protocol.KindJSONReliable)
	if want := `{"sequenceId":1,` + string(m.JSON[1:]); string(d3) != want {
		t.Fatalf("reliable payload %s, want %s", d3, want)
	}
}

func TestJoinIsBoundedPerConnection(t *testing.T) {
	h := NewRegistry(Config{}).Hub("chat")
	c, _ := register(t, h, "c1", "u", protocol.KindJSON)
	for i := range MaxGroupsPerConnection {
		if err := c.Join(fmt.Sprintf("g%d", i)); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	if err := c.Join("g0"); err != nil {
		t.Fatalf("joining a group the connection is in must stay a no-op, got %v", err)
	}
	if err := c.Join("one-too-many"); !errors.Is(err, ErrTooManyGroups) {
		t.Fatalf("join beyond the limit: %v, want ErrTooManyGroups", err)
	}
	if h.HasGroup("one-too-many") {
		t.Fatal("the refused group must not exist")
	}
	c.Leave("g1")
	if err := c.Join("one-too-many"); err != nil {
		t.Fatalf("after leaving a group the join must succeed: %v", err)
	}
}

// TestIndexesShrinkAfterABurst checks that the hub's maps are rebuilt once most of a burst of
// connections left (a Go map keeps the room of its peak): each shard's peak falls below
// mapshrink.MinPeak, where rebuilding stops.
func TestIndexesShrinkAfterABurst(t *testing.T) {
	r := NewRegistry(Config{})
	h := r.Hub("chat")
	stay, _ := register(t, h, "stay", "stayer", protocol.KindJSON) // keeps the hub in the registry
	var burst []*Conn
	for i := range 8000 {
		c, _ := register(t, h, fmt.Sprintf("c%d", i), fmt.Sprintf("u%d", i), protocol.KindJSON)
		burst = append(burst, c)
	}
	// 8,000 keys hashed with a random seed put 250 ± 16 in each of the 32 shards. The
	// precondition only needs each peak well above MinPeak, so the rebuild below is exercised:
	// 2×MinPeak is 7.8 standard deviations under the mean (a run misses it with odds of about
	// 1e-16; the bound of 200 it replaces failed about one run in 40).
	for i := range h.conns {
		if h.conns[i].peak < 2*mapshrink.MinPeak || h.users[i].peak < 2*mapshrink.MinPeak {
			t.Fatalf("shard %d: peaks %d and %d with 8,000 connections, want about 250 (at least %d)", i, h.conns[i].peak, h.users[i].peak, 2*mapshrink.MinPeak)
		}
	}
	for _, c := range burst {
		c.Close(protocol.CloseNormal, "bye")
	}
	for i := range h.conns {
		if p := max(h.conns[i].peak, h.users[i].peak); p >= mapshrink.MinPeak {
			t.Errorf("shard %d: peak %d after the burst left, want the map rebuilt (below %d)", i, p, mapshrink.MinPeak)
		}
	}
	if h.Conn("stay") != stay || !h.HasUser("stayer") {
		t.Fatal("the connection that stayed is no longer indexed")
	}
}
