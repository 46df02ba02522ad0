// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
)

// The reader's behaviour as clients see it, with real WebSocket clients and raw frames written
// to their TCP connections. On Linux these sockets are read through the poller; the same
// tests hold for readLoop elsewhere.

// readHarness is a Transport with a registry whose connection ends are reported.
type readHarness struct {
	tr     *Transport
	rec    *recorder
	url    string
	conns  <-chan *hub.Conn
	closed chan string // the reasons of ended connections
}

func newReadHarness(t *testing.T, keepAlive time.Duration) *readHarness {
	t.Helper()
	h := &readHarness{rec: &recorder{frames: make(chan frame, 64)}, closed: make(chan string, 256)}
	reg := hub.NewRegistry(hub.Config{OnClose: func(_ *hub.Conn, reason string) { h.closed <- reason }})
	h.tr = New(Config{Handler: h.rec, KeepAlive: keepAlive, WriteTimeout: 5 * time.Second, Writers: 2})
	h.url, h.conns = rawServer(t, h.tr, reg)
	return h
}

// dial connects a client and waits for its connection to be registered.
func (h *readHarness) dial(t *testing.T) (*websocket.Conn, *hub.Conn) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	select {
	case c := <-h.conns:
		return ws, c
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not registered")
		return nil, nil
	}
}

// closeReason waits for the next ended connection's reason.
func (h *readHarness) closeReason(t *testing.T) string {
	t.Helper()
	select {
	case r := <-h.closed:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end")
		return ""
	}
}

// nextFrame waits for the next frame the Handler got.
func (h *readHarness) nextFrame(t *testing.T) frame {
	t.Helper()
	select {
	case f := <-h.rec.frames:
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("the handler got no frame")
		return frame{}
	}
}

// clientFrame builds a masked client frame; rsv sets the RSV bits (0x70 mask of byte 0).
func clientFrame(op byte, fin bool, rsv byte, masked bool, payload []byte) []byte {
	b0 := op | rsv
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i&3])
	}
	return b
}

// writeRaw writes bytes to the client's TCP connection, past its WebSocket framing.
func writeRaw(t *testing.T, ws *websocket.Conn, b []byte) {
	t.Helper()
	if _, err := ws.NetConn().Write(b); err != nil {
		t.Fatal(err)
	}
}

// expectClose reads until the service's close frame and returns its code and text.
func expectClose(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("the client read %v, want a close frame", err)
		}
		return ce.Code, ce.Text
	}
}

func TestReaderHandlesFramesSplitBatchedAndFragmented(t *testing.T) {
	t.Parallel()
	h := newReadHarness(t, time.Minute)
	ws, c := h.dial(t)

	// Three frames in one write arrive as three messages, in order.
	var batch []byte
	for _, s := range []string{"one", "two", "three"} {
		batch = append(batch, clientFrame(opText, true, 0, true, []byte(s))...)
	}
	writeRaw(t, ws, batch)
	for _, want := range []string{"one", "two", "three"} {
		if got := h.nextFrame(t); got.conn != c || got.binary || got.data != want {
			t.Fatalf("the handler got %+v, want the text frame %q", got, want)
		}
	}

	// A frame written a byte at a time is one message.
	for _, b := range clientFrame(opBinary, true, 0, true, []byte("slow")) {
		writeRaw(t, ws, []byte{b})
		time.Sleep(time.Millisecond)
	}
	if got := h.nextFrame(t); !got.binary || got.data != "slow" {
		t.Fatalf("the handler got %+v, want the binary frame slow", got)
	}

	// A fragmented message with a ping between its fragments is one message, and the ping
	// is answered.
	pong := make(chan string, 1)
	ws.SetPongHandler(func(s string) error { pong <- s; return nil })
	go func() { _, _, _ = ws.ReadMessage() }() // pong handlers run inside reads
	writeRaw(t, ws, clientFrame(opText, false, 0, true, []byte("hel")))
	writeRaw(t, ws, clientFrame(opPing, true, 0, true, []byte("p")))
	writeRaw(t, ws, clientFrame(opContinuation, false, 0, true, []byte("l")))
	writeRaw(t, ws, clientFrame(opContinuation, true, 0, true, []byte("o")))
	if got := h.nextFrame(t); got.binary || got.data != "hello" {
		t.Fatalf("the handler got %+v, want the text message hello", got)
	}
	select {
	case got := <-pong:
		if got != "p" {
			t.Errorf("pong carries %q, want p", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the ping got no pong")
	}

	// A message larger than a read buffer, and an empty one, arrive whole.
	big := bytes.Repeat([]byte("0123456789"), 30_000)
	writeRaw(t, ws, append(clientFrame(opBinary, true, 0, true, big), clientFrame(opText, true, 0, true, nil)...))
	if got := h.nextFrame(t); got.data != string(big) {
		t.Fatalf("the handler got %d bytes, want the %d of the message", len(got.data), len(big))
	}
	if got := h.nextFrame(t); got.binary || got.data != "" {
		t.Fatalf("the handler got %+v, want an empty text message", got)
	}
}

func TestReaderRefusesBadFrames(t *testing.T) {
	t.Parallel()
	atLimit := protocol.MaxFrameBytes / 2
	tests := []struct {
		name     string
		frames   [][]byte
		code     int
		text     string
		reason   string
		complete bool // the frames are sent whole (else only their headers)
	}{
		{"an unmasked frame", [][]byte{clientFrame(opText, true, 0, false, []byte("x"))},
			websocket.CloseProtocolError, "bad MASK", ReasonConnectionLost, true},
		{"RSV bits without an extension", [][]byte{clientFrame(opText, true, 0x40|0x10, true, []byte("x"))},
			websocket.CloseProtocolError, "RSV1 set, RSV3 set", ReasonConnectionLost, true},
		{"an unknown opcode", [][]byte{clientFrame(0x3, true, 0, true, nil)},
			websocket.CloseProtocolError, "bad opcode 3", ReasonConnectionLost, true},
		{"a continuation without a message", [][]byte{clientFrame(opContinuation, true, 0, true, []byte("x"))},
			websocket.CloseProtocolError, "continuation after FIN", ReasonConnectionLost, true},
		{"a data frame inside a fragmented message", [][]byte{
			clientFrame(opText, false, 0, true, []byte("a")), clientFrame(opText, true, 0, true, []byte("b"))},
			websocket.CloseProtocolError, "data before FIN", ReasonConnectionLost, true},
		{"a long control frame", [][]byte{clientFrame(opPing, true, 0, true, make([]byte, 126))},
			websocket.CloseProtocolError, "len > 125 for control", ReasonConnectionLost, true},
		{"a fragmented control frame", [][]byte{clientFrame(opPing, false, 0, true, nil)},
			websocket.CloseProtocolError, "FIN not set on control", ReasonConnectionLost, true},
		{"a close frame with a reserved code", [][]byte{clientFrame(opClose, true, 0, true, []byte{0x03, 0xed})},
			websocket.CloseProtocolError, "bad close code 1005", ReasonConnectionLost, true},
		{"a close reason that is not UTF-8", [][]byte{clientFrame(opClose, true, 0, true, []byte{0x03, 0xe8, 0xff})},
			websocket.CloseProtocolError, "invalid utf8 payload in close frame", ReasonConnectionLost, true},
		{"a frame over the limit, refused by its header", [][]byte{
			clientFrame(opBinary, true, 0, true, make([]byte, protocol.MaxFrameBytes+1))},
			websocket.CloseMessageTooBig, "", protocol.ReasonTooBig, false},
		{"a fragmented message over the limit", [][]byte{
			clientFrame(opBinary, false, 0, true, make([]byte, atLimit)),
			clientFrame(opContinuation, true, 0, true, make([]byte, atLimit+1))},
			websocket.CloseMessageTooBig, "", protocol.ReasonTooBig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newReadHarness(t, time.Minute)
			ws, _ := h.dial(t)
			for i, f := range tt.frames {
				if !tt.complete && i == len(tt.frames)-1 {
					f = f[:14] // the header, with the mask key: the payload is never needed
				}
				writeRaw(t, ws, f)
			}
			if code, text := expectClose(t, ws); code != tt.code || text != tt.text {
				t.Errorf("close %d %q, want %d %q", code, text, tt.code, tt.text)
			}
			if got := h.closeReason(t); got != tt.reason {
				t.Errorf("the connection ended with %q, want %q", got, tt.reason)
			}
			waitFor(t, "the reader to stop", func() bool { return h.tr.Sockets() == 0 })
			select {
			case f := <-h.rec.frames:
				t.Errorf("the handler got %+v from a refused socket", f)
			default:
			}
		})
	}
}

func TestClientCloseFramesAreEchoedAndEndTheConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		send   []byte
		echo   int
		reason string
	}{
		{"a normal close", websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), websocket.CloseNormalClosure, protocol.ReasonNormal},
		{"going away", websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), websocket.CloseGoingAway, protocol.ReasonNormal},
		{"no status", nil, websocket.CloseNoStatusReceived, protocol.ReasonNormal},
		{"an application code", websocket.FormatCloseMessage(4000, "later"), 4000, ReasonClosedByClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newReadHarness(t, time.Minute)
			ws, _ := h.dial(t)
			writeRaw(t, ws, clientFrame(opClose, true, 0, true, tt.send))
			if code, _ := expectClose(t, ws); code != tt.echo {
				t.Errorf("the service answered with close %d, want %d", code, tt.echo)
			}
			if got := h.closeReason(t); got != tt.reason {
				t.Errorf("the connection ended with %q, want %q", got, tt.reason)
			}
			waitFor(t, "the reader to stop", func() bool { return h.tr.Sockets() == 0 })
		})
	}
}

func TestSilentSocketEndsWithPingTimeoutAndPongsKeepItAlive(t *testing.T) {
	t.Parallel()
	const keepAlive = 100 * time.Millisecond // a socket may be silent for 300 ms
	h := newReadHarness(t, keepAlive)

	// A client that answers with pongs, or one that sends messages, stays for many idle
	// periods, and is closed once it falls silent.
	for _, send := range []func(*websocket.Conn) error{
		func(ws *websocket.Conn) error {
			return ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second))
		},
		func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.TextMessage, []byte("hi")) },
	} {
		alive, _ := h.dial(t)
		for range 20 {
			if err := send(alive); err != nil {
				t.Fatal(err)
			}
			time.Sleep(keepAlive / 2)
		}
		select {
		case r := <-h.closed:
			t.Fatalf("a client that was not silent was closed (%s)", r)
		default:
		}
		if got := h.closeReason(t); got != protocol.ReasonPingTimeout {
			t.Errorf("the silent connection ended with %q, want %q", got, protocol.ReasonPingTimeout)
		}
	}

	// A client that never sends anything is closed, and so is one that sends pings only
	// (they are answered, but a ping is no sign that the client reads).
	_, _ = h.dial(t)
	if got := h.closeReason(t); got != protocol.ReasonPingTimeout {
		t.Errorf("the silent connection ended with %q, want %q", got, protocol.ReasonPingTimeout)
	}
	pinger, _ := h.dial(t)
	stop := time.Now().Add(time.Minute)
	go func() {
		for time.Now().Before(stop) && pinger.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) == nil {
			time.Sleep(keepAlive / 2)
		}
	}()
	if got := h.closeReason(t); got != protocol.ReasonPingTimeout {
		t.Errorf("the pinging connection ended with %q, want %q", got, protocol.ReasonPingTimeout)
	}
	waitFor(t, "the readers to stop", func() bool { return h.tr.Sockets() == 0 })
}

func TestServiceCloseEndsTheReaderOfASilentClient(t *testing.T) {
	t.Parallel()
	h := newReadHarness(t, time.Minute)
	ws, c := h.dial(t)
	c.Close(protocol.ClosePolicy, "bye")
	if code, text := expectClose(t, ws); code != protocol.ClosePolicy || text != "bye" {
		t.Errorf("close %d %q, want %d bye", code, text, protocol.ClosePolicy)
	}
	// The client never answers: the service closes the socket a second later, and its
	// reader must end although no byte arrives.
	waitFor(t, "the reader to stop", func() bool { return h.tr.Sockets() == 0 })
	if got := h.closeReason(t); got != "bye" {
		t.Errorf("the connection ended with %q, want bye", got)
	}
}

func TestClientThatGoesAwayEndsWithConnectionLost(t *testing.T) {
	t.Parallel()
	h := newReadHarness(t, time.Minute)
	ws, _ := h.dial(t)
	// Half a frame, then the TCP connection ends without a close frame.
	writeRaw(t, ws, clientFrame(opText, true, 0, true, []byte("half"))[:4])
	_ = ws.NetConn().Close()
	if got := h.closeReason(t); got != ReasonConnectionLost {
		t.Errorf("the connection ended with %q, want %q", got, ReasonConnectionLost)
	}
	ws2, _ := h.dial(t)
	_ = ws2.NetConn().Close()
	if got := h.closeReason(t); got != ReasonConnectionLost {
		t.Errorf("the connection ended with %q, want %q", got, ReasonConnectionLost)
	}
	waitFor(t, "the readers to stop", func() bool { return h.tr.Sockets() == 0 })
}
