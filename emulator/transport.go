package emulator

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/emulator/hub"
	"github.com/chathub/chathub/emulator/protocol"
)

// socket is the WebSocket side of one connection. It has one reader goroutine; a writer
// goroutine runs only while frames are queued, so an idle connection costs one goroutine.
type socket struct {
	s    *Server
	ws   *websocket.Conn
	kind protocol.Kind
	conn atomic.Pointer[hub.Conn]

	writing  atomic.Bool
	closeReq atomic.Pointer[closeRequest]
}

type closeRequest struct {
	code   int
	reason string
}

func newSocket(s *Server, ws *websocket.Conn, kind protocol.Kind) *socket {
	return &socket{s: s, ws: ws, kind: kind}
}

// Notify starts the writer unless it is running.
func (k *socket) Notify() {
	if k.writing.CompareAndSwap(false, true) {
		go k.writeLoop()
	}
}

// Close asks the writer to send a close frame after the queued frames; the socket is closed
// after WriteTimeout at the latest.
func (k *socket) Close(code int, reason string) {
	if !k.closeReq.CompareAndSwap(nil, &closeRequest{code: code, reason: reason}) {
		return
	}
	time.AfterFunc(k.s.cfg.WriteTimeout, func() { _ = k.ws.NetConn().Close() })
	k.Notify()
}

func (k *socket) writeLoop() {
	for {
		c := k.conn.Load()
		var frames []hub.Frame
		if c != nil {
			frames = c.Drain(k)
		}
		if len(frames) > 0 {
			if err := k.write(frames); err != nil {
				_ = k.ws.NetConn().Close() // the reader sees the error and ends the connection
				return                     // writing stays true: no writer ever starts again
			}
			continue
		}
		if cr := k.closeReq.Load(); cr != nil {
			k.writeClose(cr)
			return
		}
		k.writing.Store(false)
		// A frame queued between Drain and Store found writing true and did not start a
		// writer: look again before leaving.
		pending := (c != nil && c.Pending(k)) || k.closeReq.Load() != nil
		if !pending || !k.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// write sends a batch of frames with one vectored write: frame headers are built here and
// the payloads, shared by every socket of a broadcast, are written as they are. Control
// frames gorilla writes itself (pong, close replies) go out in single writes between batches,
// so frames never interleave.
func (k *socket) write(frames []hub.Frame) error {
	hdrs := make([]byte, 0, maxFrameHeader*len(frames)) // never grows: sub-slices stay valid
	bufs := make(net.Buffers, 0, 2*len(frames))
	for _, f := range frames {
		op, data := byte(opText), []byte(nil)
		if f.IsPing() {
			op = opPing
		} else {
			var binary bool
			data, binary = f.Payload(k.kind)
			if binary {
				op = opBinary
			}
		}
		n := len(hdrs)
		hdrs = appendFrameHeader(hdrs, op, len(data))
		bufs = append(bufs, hdrs[n:])
		if len(data) > 0 {
			bufs = append(bufs, data)
		}
	}
	nc := k.ws.NetConn()
	if err := nc.SetWriteDeadline(time.Now().Add(k.s.cfg.WriteTimeout)); err != nil {
		return err
	}
	_, err := bufs.WriteTo(nc)
	if err == nil {
		k.s.metrics.messagesOut.Add(float64(len(frames)))
	}
	return err
}

// WebSocket opcodes and the largest header of an unmasked server frame (RFC 6455 §5.2).
const (
	opText         = 0x1
	opBinary       = 0x2
	opPing         = 0x9
	maxFrameHeader = 10
)

// appendFrameHeader appends the header of a final, unmasked frame.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// writeClose sends the disconnected system message (JSON clients) and the close frame, then
// gives the client a moment to answer before the socket is closed.
func (k *socket) writeClose(cr *closeRequest) {
	deadline := time.Now().Add(time.Second)
	_ = k.ws.SetWriteDeadline(deadline)
	if k.kind != protocol.KindRaw {
		_ = k.ws.WriteMessage(websocket.TextMessage, protocol.Disconnected(cr.reason))
	}
	reason := cr.reason
	if len(reason) > 120 { // a close frame's payload is at most 125 bytes
		reason = reason[:120]
	}
	_ = k.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(cr.code, reason), deadline)
	time.AfterFunc(time.Second, func() { _ = k.ws.NetConn().Close() })
}

// readLoop reads client frames until the socket ends, then tells the connection why.
func (k *socket) readLoop(c *hub.Conn) {
	defer k.s.sockets.Add(-1)
	ws := k.ws
	idle := 3 * k.s.cfg.KeepAlive
	ws.SetReadLimit(protocol.MaxFrameBytes)
	_ = ws.SetReadDeadline(time.Now().Add(idle))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(idle)) })
	var err error
	for {
		var mt int
		var r io.Reader
		mt, r, err = ws.NextReader()
		if err != nil {
			break
		}
		var data []byte
		if data, err = io.ReadAll(r); err != nil {
			break
		}
		k.s.handleFrame(c, mt == websocket.BinaryMessage, data)
		_ = ws.SetReadDeadline(time.Now().Add(idle))
	}
	_ = ws.NetConn().Close()
	recoverable, reason := classifyReadError(err)
	if errors.Is(err, websocket.ErrReadLimit) {
		c.Close(protocol.CloseTooBig, reason) // gorilla has already sent the 1009 close frame
		return
	}
	c.SocketGone(k, recoverable, reason)
}

// classifyReadError says whether a reliable client may come back after this read error and
// names the disconnect reason.
func classifyReadError(err error) (recoverable bool, reason string) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		switch ce.Code {
		case protocol.CloseNormal, protocol.CloseGoingAway, protocol.CloseNoStatus:
			return false, protocol.ReasonNormal
		}
		return true, reasonClosedByClient
	case errors.Is(err, websocket.ErrReadLimit):
		return false, protocol.ReasonTooBig
	case errors.As(err, &ne) && ne.Timeout():
		return true, protocol.ReasonPingTimeout
	}
	return true, reasonConnectionLost
}

// Disconnect reasons of sockets that ended on the client's side.
const (
	reasonClosedByClient = "ClosedByClient"
	reasonConnectionLost = "ConnectionLost"
)
