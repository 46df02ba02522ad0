// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// burst sends n text messages of size bytes ("<i>|xxx…") to every connection.
func burst(t *testing.T, e *testEnv, n, size int) {
	t.Helper()
	if err := sendBurst(t, e, n, size); err != nil {
		t.Fatal(err)
	}
}

func sendBurst(t *testing.T, e *testEnv, n, size int) error {
	pad := strings.Repeat("x", size)
	for i := range n {
		if err := e.rest.SendToAll(ctx(t), webpubsub.TextContent(fmt.Sprintf("%d|%s", i, pad)), nil); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	return nil
}

// readBurst reads n messages of a burst and checks their order and size.
func readBurst(t *testing.T, ws *websocket.Conn, n, size int) {
	t.Helper()
	for i := range n {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		prefix := fmt.Sprintf("%d|", i)
		if !bytes.HasPrefix(data, []byte(prefix)) || len(data) != len(prefix)+size {
			t.Fatalf("message %d starts with %.12q and has %d bytes, want %q and %d", i, data, len(data), prefix, len(prefix)+size)
		}
	}
}

func TestClientThatStopsReadingGetsEveryFrameInOrderAndStaysUsable(t *testing.T) {
	const writeTimeout = 3 * time.Second
	e := newEnv(t, func(c *Config) { c.WriteTimeout, c.MaxQueueBytes = writeTimeout, 64<<20 })
	c := dialRegistered(t, e, "reader", webpubsub.ClientTokenOptions{})
	before := e.srv.transport.Stats().HandedOff
	// 12 MB is more than the socket buffers of a client that does not read (128 KiB receive
	// buffer, at most 4 MiB send buffer), so writes block and are handed off. The client
	// starts reading once that has happened: the handed-off batch waits WriteTimeout for it,
	// however long the rest of the burst takes to send.
	const n, size = 120, 100 << 10
	sent := make(chan error, 1)
	go func() { sent <- sendBurst(t, e, n, size) }()
	eventually(t, "a write to be handed off (the socket buffers to fill)", func() bool {
		return e.srv.transport.Stats().HandedOff > before
	})
	readBurst(t, c.ws, n, size)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	// The write deadline of the blocked batch is cleared: after it would have expired, the
	// socket still takes messages.
	time.Sleep(writeTimeout + 500*time.Millisecond)
	burst(t, e, 1, 10)
	readBurst(t, c.ws, 1, 10)
}

func TestClientsThatDoNotReadHoldNoWriterFromTheOthers(t *testing.T) {
	const writers = 4
	e := newEnv(t, func(c *Config) { c.WriteTimeout, c.MaxQueueBytes, c.WriterPoolSize = time.Minute, 64<<20, writers })
	if got := e.srv.transport.Stats().Writers; got != writers {
		t.Fatalf("the writer pool has %d workers, want the configured %d", got, writers)
	}
	url := e.clientURL(t, testHub, webpubsub.ClientTokenOptions{})
	stuck := 3 * writers // more than the pool has workers
	for range stuck {
		dial(t, url) // never read
	}
	healthy := dial(t, url)
	const n, size = 60, 100 << 10
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := sendBurst(t, e, n, size); err != nil {
			t.Error(err)
		}
	}()
	// With a worker blocked on each stuck client for up to WriteTimeout (a minute), this
	// reader would time out.
	readBurst(t, healthy.ws, n, size)
	wg.Wait()
}
