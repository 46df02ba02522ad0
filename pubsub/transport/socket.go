// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
)

// Socket is the WebSocket side of one connection; it is the connection's hub.Transport. Its
// client frames are read by a goroutine that runs only while the socket has bytes to read
// (poll_linux.go; elsewhere, and for sockets without a descriptor, by a goroutine for its whole
// life, readLoop); its queued frames are written by the Transport's writer pool. So on Linux
// an idle connection costs no goroutine, and a busy one only while it has bytes to read.
type Socket struct {
	t    *Transport
	ws   *websocket.Conn
	sys  sysConn // the descriptor for vectored writes, where the system has them
	kind protocol.Kind
	conn atomic.Pointer[hub.Conn]

	writing atomic.Bool // the socket is in the writer pool's queue or being written
	// lastWrite is the pool's clock (writePool.now) at the end of the last batch written
	// without blocking; 0 before the first.
	lastWrite atomic.Int64
	wmu       sync.Mutex // held while a batch or a control frame is on its way to the socket
	closeReq  atomic.Pointer[closeRequest]
	gone      atomic.Bool // the reader has ended and closed the socket

	// Reader state, used by one reader at a time.
	limit bucket      // the data-frame rate limit
	rd    frameReader // frames not yet complete (polled sockets)
	ps    pollState   // polled sockets: reader scheduling and idle deadline
}

type closeRequest struct {
	code   int
	reason string
}

func newSocket(t *Transport, ws *websocket.Conn, kind protocol.Kind) *Socket {
	return &Socket{t: t, ws: ws, kind: kind, sys: newSysConn(ws.NetConn())}
}

// Attach makes c the connection whose send queue the socket writes. Call it before c may
// notify the socket (hub.Conn.Resume) or, for a new connection, right after registering it.
func (k *Socket) Attach(c *hub.Conn) { k.conn.Store(c) }

// Start runs the socket's reader for the attached connection: client frames go to the
// Handler, and the connection learns why the socket ended.
func (k *Socket) Start() {
	c := k.conn.Load()
	k.t.rel.opened(k.t.sockets.Add(1))
	k.limit = newBucket(k.t.cfg.MessageRate, k.t.cfg.MessageBurst)
	if !k.startPolled(c) {
		go k.readLoop(c)
	}
}

// Refuse ends a socket that was never started with a close frame of this code and reason.
func (k *Socket) Refuse(code int, reason string) {
	_ = k.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = k.ws.Close()
}

// Notify hands the socket to the writer pool unless it is already there.
func (k *Socket) Notify() {
	if k.writing.CompareAndSwap(false, true) {
		k.t.pool.notify(k)
	}
}

// Close asks the writer to send a close frame after the queued frames; the socket is closed
// after WriteTimeout at the latest.
func (k *Socket) Close(code int, reason string) {
	if !k.closeReq.CompareAndSwap(nil, &closeRequest{code: code, reason: reason}) {
		return
	}
	if k.gone.Load() {
		return // nothing can be written, and timers would keep the socket's memory for a while
	}
	time.AfterFunc(k.t.cfg.WriteTimeout, k.closeNet)
	k.Notify()
}

// maxBatchesPerTurn bounds how many batches a pool worker writes to one socket before it
// moves on, so that one busy socket cannot hold a worker while the others wait.
const maxBatchesPerTurn = 4

// flush writes the socket's queued frames; it runs on a writer pool worker and only while
// writing is true, so one socket never has two writers.
func (k *Socket) flush(w *writeScratch) {
	for turn := 0; ; turn++ {
		c := k.conn.Load()
		var frames []hub.Frame
		if c != nil {
			frames = c.Drain(k)
		}
		if len(frames) > 0 {
			switch err := k.write(c, frames, w); {
			case errors.Is(err, errHandedOff):
				return // a goroutine of its own finishes the batch and brings the socket back
			case err != nil:
				k.closeNet() // the reader sees the error and ends the connection
				return       // writing stays true: no writer ever starts again
			}
			c.Recycle(frames)
			if turn+1 >= maxBatchesPerTurn {
				k.t.pool.push(k) // writing stays true: the socket goes to the back of the queue
				return
			}
			continue
		}
		if cr := k.closeReq.Load(); cr != nil {
			go k.writeClose(cr) // blocking writes with their own deadline, off the pool
			return
		}
		k.writing.Store(false)
		// A frame queued between Drain and Store found writing true and did not notify:
		// look again before leaving.
		pending := (c != nil && c.Pending(k)) || k.closeReq.Load() != nil
		if !pending || !k.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// errHandedOff reports a batch that did not fit the socket buffer and is being finished by
// a goroutine of its own (see finishBlocked).
var errHandedOff = errors.New("write handed off")

// write sends a batch of frames with vectored writes: frame headers are built in the
// worker's scratch space and the payloads, shared by every socket of a broadcast, are written
// as they are. Where the system allows (see writeBatch), the socket is non-blocking: a batch
// that fits the socket buffer (the usual case) costs one writev and no deadline. When it does
// not fit, the rest goes to a goroutine of its own that waits for the client with
// WriteTimeout (errHandedOff), so a slow client never holds a pool worker. wmu is held until
// the batch is complete, and the control frames of the reader (pong, close replies) take it
// too, so frames never interleave.
func (k *Socket) write(c *hub.Conn, frames []hub.Frame, w *writeScratch) error {
	w.reset(len(frames))
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
		n := len(w.hdrs)
		w.hdrs = appendFrameHeader(w.hdrs, op, len(data))
		w.bufs = append(w.bufs, w.hdrs[n:])
		w.isHdr = append(w.isHdr, true)
		if len(data) > 0 {
			w.bufs = append(w.bufs, data)
			w.isHdr = append(w.isHdr, false)
		}
	}
	defer clear(w.bufs) // do not keep the payloads alive
	k.wmu.Lock()
	written, blocked, err := k.writeBatch(w)
	if err != nil || !blocked {
		k.wmu.Unlock()
		if err == nil && k.t.pool.coalesce > 0 {
			k.lastWrite.Store(int64(k.t.pool.now()))
		}
		return k.written(len(frames), err)
	}
	k.t.pool.handoffs.Add(1)
	go k.finishBlocked(w.rest(written), c, frames) // wmu passes to it
	return errHandedOff
}

// writeBlocking writes bufs with an ordinary blocking write bounded by WriteTimeout: the
// write path of sockets that are not file descriptors, and of systems without writeRaw.
func (k *Socket) writeBlocking(bufs net.Buffers) error {
	nc := k.ws.NetConn()
	err := nc.SetWriteDeadline(time.Now().Add(k.t.cfg.WriteTimeout))
	if err == nil {
		_, err = bufs.WriteTo(nc)
	}
	return err
}

// written counts n frames written when err is nil and returns err.
func (k *Socket) written(n int, err error) error {
	if err == nil {
		k.t.cfg.Handler.FramesSent(n)
	}
	return err
}

// finishBlocked completes a batch the socket buffer could not take, waiting for the client
// at most WriteTimeout, then releases wmu and hands the socket back to the pool (writing is
// still true) for whatever was queued meanwhile.
func (k *Socket) finishBlocked(rest net.Buffers, c *hub.Conn, frames []hub.Frame) {
	nc := k.ws.NetConn()
	err := nc.SetWriteDeadline(time.Now().Add(k.t.cfg.WriteTimeout))
	if err == nil {
		_, err = rest.WriteTo(nc)
	}
	if err == nil {
		err = nc.SetWriteDeadline(time.Time{})
	}
	k.wmu.Unlock()
	if k.written(len(frames), err) != nil {
		k.closeNet() // the reader sees the error and ends the connection; writing stays true
		return
	}
	c.Recycle(frames)
	k.t.pool.push(k)
}

// writeClose sends the disconnected system message (JSON clients) and the close frame, then
// gives the client a moment to answer before the socket is closed.
func (k *Socket) writeClose(cr *closeRequest) {
	k.wmu.Lock()
	defer k.wmu.Unlock()
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
	time.AfterFunc(time.Second, k.closeNet)
}

// closeNet closes the network connection; the reader meets the error and ends the connection.
func (k *Socket) closeNet() {
	_ = k.ws.NetConn().Close()
	k.wake()
}
