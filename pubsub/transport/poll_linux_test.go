// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Idle sockets are read through the poller on Linux (poll_linux.go), so they hold no
// goroutine; elsewhere readLoop keeps one per socket and this file is not built.

func TestIdleSocketsHoldNoGoroutine(t *testing.T) {
	const n = 200
	h := newReadHarness(t, time.Minute)
	waitFor(t, "the server to settle", func() bool { return true })
	before := runtime.NumGoroutine()
	clients := make([]*websocket.Conn, 0, n)
	for range n {
		ws, _ := h.dial(t)
		clients = append(clients, ws)
	}
	// The handshakes' goroutines end once the sockets are hijacked; allow them time.
	var grew int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if grew = runtime.NumGoroutine() - before; grew < n/10 {
			break
		}
	}
	if grew >= n/10 {
		t.Fatalf("%d idle sockets hold %d more goroutines, want fewer than %d", n, grew, n/10)
	}
	// They still read: every client's frame arrives.
	for i, ws := range clients {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", i%7))); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		h.nextFrame(t)
	}
	if h.tr.Sockets() != n {
		t.Errorf("%d sockets are read, want %d", h.tr.Sockets(), n)
	}
}

func TestReaderGateWaitsForAReaderToLeave(t *testing.T) {
	g := readerGate{wakeup: make(chan struct{}, 1)}
	for range maxReaders {
		g.enter()
	}
	done := make(chan struct{})
	go func() {
		g.wait()
		close(done)
	}()
	select {
	case <-done:
		t.Fatalf("wait returned with %d readers running, want it to wait below %d", g.active.Load(), maxReaders)
	case <-time.After(50 * time.Millisecond):
	}
	g.leave() // a reader hands its message to the Handler, or ends
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after a reader left")
	}
	g.enter() // the reader back from the Handler counts again, without waiting
	if got := g.active.Load(); got != maxReaders {
		t.Fatalf("%d readers counted, want %d", got, maxReaders)
	}
}
