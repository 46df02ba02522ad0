// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// frame is a client frame as the Handler received it.
type frame struct {
	conn   *hub.Conn
	binary bool
	data   string
}

// recorder is a Handler that hands client frames to the test and counts frames sent.
type recorder struct {
	frames chan frame
	sent   atomic.Int64
}

func (r *recorder) Frame(c *hub.Conn, binary bool, data []byte) {
	r.frames <- frame{c, binary, string(data)}
}
func (r *recorder) FramesSent(n int) { r.sent.Add(int64(n)) }

// rawServer serves raw WebSocket connections of hub "h" on 127.0.0.1 with a real Transport
// and registry; it returns the server's ws:// URL and the registered connections.
func rawServer(t *testing.T, tr *Transport, reg *hub.Registry) (string, <-chan *hub.Conn) {
	t.Helper()
	conns := make(chan *hub.Conn, 1)
	var n atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := tr.Upgrade(w, r, "", protocol.KindRaw)
		if err != nil {
			return
		}
		c, err := reg.Hub("h").Register(hub.ConnOptions{ID: "c" + strconv.FormatInt(n.Add(1), 10), Kind: protocol.KindRaw, Transport: k})
		if err != nil {
			k.Refuse(protocol.CloseInternal, "retry")
			return
		}
		k.Attach(c)
		k.Start()
		conns <- c
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http"), conns
}

func TestSocketCarriesFramesBothWaysAndEndsItsConnection(t *testing.T) {
	t.Parallel()
	closed := make(chan string, 1)
	reg := hub.NewRegistry(hub.Config{OnClose: func(_ *hub.Conn, reason string) { closed <- reason }})
	rec := &recorder{frames: make(chan frame, 4)}
	tr := New(Config{Handler: rec, KeepAlive: time.Minute, WriteTimeout: 5 * time.Second, Writers: 1})
	url, conns := rawServer(t, tr, reg)

	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ws.Close() }()
	c := <-conns

	// Client to service: the frame reaches the Handler with its connection.
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if got := <-rec.frames; got.conn != c || !got.binary || got.data != "\x01\x02" {
		t.Fatalf("the handler got %+v, want the binary frame 01 02 of %s", got, c.ID())
	}

	// Service to client: a queued message is written by the pool and counted.
	if err := c.Send(hub.NewMessage(protocol.FromServer, "", "", webpubsub.ContentTypeText, []byte("hello"))); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if mt, data, err := ws.ReadMessage(); err != nil || mt != websocket.TextMessage || string(data) != "hello" {
		t.Fatalf("the client read %d %q %v, want the text frame hello", mt, data, err)
	}
	waitFor(t, "FramesSent to report the frame", func() bool { return rec.sent.Load() == 1 })

	// Control frames: the reader answers a ping with a pong carrying its data.
	pong := make(chan string, 1)
	ws.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := ws.WriteControl(websocket.PingMessage, []byte("p1"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _ = ws.ReadMessage() }() // pong handlers run inside reads
	if got := <-pong; got != "p1" {
		t.Errorf("pong carries %q, want p1", got)
	}

	// A normal close ends the connection with reason Normal, and the reader stops.
	if err := ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
		t.Fatal(err)
	}
	if got := <-closed; got != protocol.ReasonNormal {
		t.Errorf("the connection closed with %q, want %q", got, protocol.ReasonNormal)
	}
	waitFor(t, "the reader to stop", func() bool { return tr.Sockets() == 0 })
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestTransportsHaveTheirOwnWriterPools(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	a := New(Config{Handler: rec, KeepAlive: time.Minute, WriteTimeout: time.Second, Writers: 3})
	b := New(Config{Handler: rec, KeepAlive: time.Minute, WriteTimeout: time.Second})
	if a.pool == b.pool {
		t.Fatal("two transports share a writer pool")
	}
	if got := a.Stats().Writers; got != 3 {
		t.Errorf("a pool configured with 3 writers has %d", got)
	}
	if got := b.Stats().Writers; got < 4 {
		t.Errorf("the default pool has %d writers, want at least 4", got)
	}
}
