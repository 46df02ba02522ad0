// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// batchRecorder is a Handler that records the size of each batch written.
type batchRecorder struct {
	mu      sync.Mutex
	batches []int
}

func (r *batchRecorder) Frame(*hub.Conn, bool, []byte) {}
func (r *batchRecorder) FramesSent(n int) {
	r.mu.Lock()
	r.batches = append(r.batches, n)
	r.mu.Unlock()
}

func (r *batchRecorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.batches...)
}

// coalesceSetup serves one raw client with a Transport whose pool reads the fake clock now
// (nanoseconds) and returns the client and its connection.
func coalesceSetup(t *testing.T, coalesce time.Duration, now *atomic.Int64) (*Transport, *batchRecorder, *websocket.Conn, *hub.Conn) {
	t.Helper()
	rec := &batchRecorder{}
	tr := New(Config{Handler: rec, KeepAlive: time.Minute, WriteTimeout: 5 * time.Second, Writers: 2, WriteCoalesce: coalesce})
	tr.pool.now = func() time.Duration { return time.Duration(now.Load()) }
	url, conns := rawServer(t, tr, hub.NewRegistry(hub.Config{}))
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return tr, rec, ws, <-conns
}

func send(t *testing.T, c *hub.Conn, s string) {
	t.Helper()
	if err := c.Send(hub.NewMessage(protocol.FromServer, "", "", webpubsub.ContentTypeText, []byte(s))); err != nil {
		t.Fatal(err)
	}
}

func readText(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != want {
		t.Fatalf("the client read %q (%v), want %q", data, err, want)
	}
}

func TestFramesSoonAfterAWriteAreGatheredIntoOneWrite(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(int64(time.Hour)) // the clock stands still: every write is "just now"
	tr, rec, ws, c := coalesceSetup(t, time.Second, &now)

	// The first frame has no write before it: it is written at once.
	send(t, c, "0")
	readText(t, ws, "0")
	waitFor(t, "the first write to be counted", func() bool { return len(rec.sizes()) == 1 })
	if got := tr.Stats().Coalesced; got != 0 {
		t.Fatalf("Coalesced = %d before any frame followed a write", got)
	}

	// Frames right after it wait for the tick and go out together, in order.
	const n = 5
	for i := 1; i <= n; i++ {
		send(t, c, strconv.Itoa(i))
	}
	for i := 1; i <= n; i++ {
		readText(t, ws, strconv.Itoa(i))
	}
	waitFor(t, "the second write to be counted", func() bool { return len(rec.sizes()) == 2 })
	if got := rec.sizes(); got[0] != 1 || got[1] != n {
		t.Errorf("batches written: %v, want [1 %d]", got, n)
	}
	if got := tr.Stats().Coalesced; got != 1 {
		t.Errorf("Coalesced = %d, want 1 (the socket waited for one tick)", got)
	}
}

func TestFramesFurtherApartThanTheCoalescingTimeAreWrittenAtOnce(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	// An hour of coalescing: a frame that waited for a tick would time the test out.
	tr, rec, ws, c := coalesceSetup(t, time.Hour, &now)
	for i := range 3 {
		now.Add(int64(2 * time.Hour))
		send(t, c, strconv.Itoa(i))
		readText(t, ws, strconv.Itoa(i))
		waitFor(t, "the write to be counted", func() bool { return len(rec.sizes()) == i+1 })
	}
	if got := tr.Stats().Coalesced; got != 0 {
		t.Errorf("Coalesced = %d, want 0: each frame came two hours after the last write", got)
	}
}

func TestNegativeWriteCoalesceWritesEveryFrameAtOnce(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(int64(time.Hour))
	tr, rec, ws, c := coalesceSetup(t, -1, &now)
	if tr.pool.coalesce != 0 {
		t.Fatalf("WriteCoalesce -1 left the pool coalescing for %s", tr.pool.coalesce)
	}
	for i := range 3 {
		send(t, c, strconv.Itoa(i))
		readText(t, ws, strconv.Itoa(i))
		waitFor(t, "the write to be counted", func() bool { return len(rec.sizes()) == i+1 })
	}
	if got := tr.Stats().Coalesced; got != 0 {
		t.Errorf("Coalesced = %d with coalescing off", got)
	}
}

func TestDefaultWriteCoalesce(t *testing.T) {
	t.Parallel()
	tr := New(Config{Handler: &batchRecorder{}, KeepAlive: time.Minute, WriteTimeout: time.Second})
	if tr.pool.coalesce != DefaultWriteCoalesce {
		t.Errorf("the default pool coalesces for %s, want %s", tr.pool.coalesce, DefaultWriteCoalesce)
	}
}

func TestHelpWriteWritesTheFirstQueuedSocketsOnTheCallersGoroutine(t *testing.T) {
	t.Parallel()
	tr := New(Config{Handler: &batchRecorder{}, KeepAlive: time.Minute, WriteTimeout: 5 * time.Second, Writers: 2})
	url, conns := rawServer(t, tr, hub.NewRegistry(hub.Config{}))
	const n = yieldEvery + 4
	clients := make([]*websocket.Conn, n)
	served := make([]*hub.Conn, n)
	for i := range clients {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ws.Close() })
		clients[i], served[i] = ws, <-conns
	}
	// No worker may start: only HelpWrite writes.
	tr.pool.mu.Lock()
	tr.pool.max = 0
	tr.pool.mu.Unlock()
	queued := func() int {
		tr.pool.mu.Lock()
		defer tr.pool.mu.Unlock()
		return len(tr.pool.queue) - tr.pool.head
	}
	for _, c := range served {
		send(t, c, "hello")
	}
	if got := queued(); got != n {
		t.Fatalf("%d sockets queued, want %d", got, n)
	}
	tr.HelpWrite()
	if got := queued(); got != n-yieldEvery {
		t.Fatalf("%d sockets still queued after HelpWrite, want %d (it writes at most %d)", got, n-yieldEvery, yieldEvery)
	}
	tr.HelpWrite()
	if got := queued(); got != 0 {
		t.Fatalf("%d sockets still queued after the second HelpWrite, want none", got)
	}
	for _, ws := range clients {
		readText(t, ws, "hello")
	}
}
