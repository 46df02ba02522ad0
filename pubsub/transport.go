package pubsub

import (
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
)

// socket is the WebSocket side of one connection. It has one reader goroutine; its queued
// frames are written by the shared writer pool (see writePool), so an idle connection costs
// one goroutine and a busy one no goroutine of its own.
type socket struct {
	s    *Server
	ws   *websocket.Conn
	raw  syscall.RawConn // nil when the socket is not a file descriptor (then net.Buffers)
	kind protocol.Kind
	conn atomic.Pointer[hub.Conn]

	writing  atomic.Bool // the socket is in the writer pool's queue or being written
	wmu      sync.Mutex  // held while a batch or a control frame is on its way to the socket
	closeReq atomic.Pointer[closeRequest]
}

type closeRequest struct {
	code   int
	reason string
}

func newSocket(s *Server, ws *websocket.Conn, kind protocol.Kind) *socket {
	k := &socket{s: s, ws: ws, kind: kind}
	if sc, ok := ws.NetConn().(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			k.raw = raw
		}
	}
	return k
}

// Notify hands the socket to the writer pool unless it is already there.
func (k *socket) Notify() {
	if k.writing.CompareAndSwap(false, true) {
		writers.push(k)
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

// maxBatchesPerTurn bounds how many batches a pool worker writes to one socket before it
// moves on, so that one busy socket cannot hold a worker while the others wait.
const maxBatchesPerTurn = 4

// flush writes the socket's queued frames; it runs on a writer pool worker and only while
// writing is true, so one socket never has two writers.
func (k *socket) flush(w *writeScratch) {
	for turn := 0; ; turn++ {
		c := k.conn.Load()
		var frames []hub.Frame
		if c != nil {
			frames = c.Drain(k)
		}
		if len(frames) > 0 {
			switch err := k.write(c, frames, w); {
			case err == errHandedOff:
				return // a goroutine of its own finishes the batch and brings the socket back
			case err != nil:
				_ = k.ws.NetConn().Close() // the reader sees the error and ends the connection
				return                     // writing stays true: no writer ever starts again
			}
			c.Recycle(frames)
			if turn+1 >= maxBatchesPerTurn {
				writers.push(k) // writing stays true: the socket goes to the back of the queue
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
// as they are. The socket is non-blocking: a batch that fits the socket buffer (the usual
// case) costs one writev and no deadline. When it does not fit, the rest goes to a goroutine
// of its own that waits for the client with WriteTimeout (errHandedOff), so a slow client
// never holds a pool worker. wmu is held until the batch is complete, and the control frames
// of the reader (pong, close replies) take it too, so frames never interleave.
func (k *socket) write(c *hub.Conn, frames []hub.Frame, w *writeScratch) error {
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
	if k.raw == nil { // not a file descriptor: an ordinary blocking write
		nc := k.ws.NetConn()
		err := nc.SetWriteDeadline(time.Now().Add(k.s.cfg.WriteTimeout))
		if err == nil {
			bufs := w.bufs
			_, err = bufs.WriteTo(nc)
		}
		k.wmu.Unlock()
		return k.written(len(frames), err)
	}
	written, blocked, err := k.writeRaw(w)
	if err != nil || !blocked {
		k.wmu.Unlock()
		return k.written(len(frames), err)
	}
	handoffs.Add(1)
	go k.finishBlocked(w.rest(written), c, frames) // wmu passes to it
	return errHandedOff
}

// handoffs counts the batches finished by finishBlocked (for tests).
var handoffs atomic.Int64

// written counts n frames written when err is nil and returns err.
func (k *socket) written(n int, err error) error {
	if err == nil {
		k.s.metrics.messagesOut.Add(float64(n))
	}
	return err
}

// writeRaw writes w.bufs with non-blocking writev system calls on the socket's descriptor
// until everything is written or the socket buffer is full (blocked).
func (k *socket) writeRaw(w *writeScratch) (written int, blocked bool, err error) {
	w.iov = w.iov[:0]
	for _, b := range w.bufs {
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		w.iov = append(w.iov, v)
	}
	defer clear(w.iov)
	w.pending, w.written, w.blocked, w.werr = w.iov, 0, false, nil
	if w.writeFn == nil {
		w.writeFn = w.writeFD // one method value per worker: a closure would allocate per write
	}
	err = k.raw.Write(w.writeFn)
	if err == nil {
		err = w.werr
	}
	w.pending = nil
	return w.written, w.blocked, err
}

// writeFD writes w.pending to fd; it runs inside RawConn.Write, which holds the descriptor.
func (w *writeScratch) writeFD(fd uintptr) bool {
	for len(w.pending) > 0 {
		n, errno := writev(fd, w.pending[:min(len(w.pending), maxIovecs)])
		switch errno {
		case 0:
			w.written += n
			w.pending = advance(w.pending, n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			w.blocked = true
			return true
		default:
			w.werr = errno
			return true
		}
	}
	return true
}

// finishBlocked completes a batch the socket buffer could not take, waiting for the client
// at most WriteTimeout, then releases wmu and hands the socket back to the pool (writing is
// still true) for whatever was queued meanwhile.
func (k *socket) finishBlocked(rest net.Buffers, c *hub.Conn, frames []hub.Frame) {
	nc := k.ws.NetConn()
	err := nc.SetWriteDeadline(time.Now().Add(k.s.cfg.WriteTimeout))
	if err == nil {
		_, err = rest.WriteTo(nc)
	}
	if err == nil {
		err = nc.SetWriteDeadline(time.Time{})
	}
	k.wmu.Unlock()
	if k.written(len(frames), err) != nil {
		_ = nc.Close() // the reader sees the error and ends the connection; writing stays true
		return
	}
	c.Recycle(frames)
	writers.push(k)
}

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// writev is the system call on a non-blocking socket; it never waits, so it is made without
// telling the scheduler (which would cost more than the call saves on a 2-core machine).
func writev(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	return int(n), errno
}

// advance drops the first n written bytes from iov.
func advance(iov []syscall.Iovec, n int) []syscall.Iovec {
	for n > 0 && len(iov) > 0 {
		if l := int(iov[0].Len); n >= l {
			n -= l
			iov = iov[1:]
			continue
		}
		iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(iov[0].Base), n))
		iov[0].SetLen(int(iov[0].Len) - n)
		n = 0
	}
	return iov
}

// writeScratch is a pool worker's reusable space for frame headers and buffer lists, so a
// write allocates nothing.
type writeScratch struct {
	hdrs  []byte
	bufs  net.Buffers
	isHdr []bool // whether bufs[i] is a frame header (in hdrs) rather than a shared payload
	iov   []syscall.Iovec

	// State of the write in progress (see writeFD).
	pending []syscall.Iovec
	written int
	blocked bool
	werr    error
	writeFn func(fd uintptr) bool
}

// reset empties the scratch space for a batch of n frames; hdrs gets room for every header
// up front, so the sub-slices taken from it stay valid.
func (w *writeScratch) reset(n int) {
	if cap(w.hdrs) < maxFrameHeader*n {
		w.hdrs = make([]byte, 0, maxFrameHeader*n)
	}
	w.hdrs, w.bufs, w.isHdr = w.hdrs[:0], w.bufs[:0], w.isHdr[:0]
}

// rest returns what remains of bufs after the first written bytes, with the frame headers
// copied out of the scratch space (payloads are shared and never modified).
func (w *writeScratch) rest(written int) net.Buffers {
	var out net.Buffers
	for i, b := range w.bufs {
		if written >= len(b) {
			written -= len(b)
			continue
		}
		b = b[written:]
		written = 0
		if w.isHdr[i] {
			b = append([]byte(nil), b...)
		}
		out = append(out, b)
	}
	return out
}

// writers is the process's writer pool.
var writers = &writePool{max: max(4, 2*runtime.GOMAXPROCS(0))}

// writePool writes queued frames to sockets with at most max goroutines: a broadcast to
// 10,000 sockets queues 10,000 sockets here instead of starting 10,000 goroutines, and a
// socket waiting in the queue gathers more frames for the same write. Workers start when
// sockets are queued and end when the queue is empty.
type writePool struct {
	mu      sync.Mutex
	queue   []*socket
	head    int
	workers int
	max     int
}

func (p *writePool) push(k *socket) {
	p.mu.Lock()
	p.queue = append(p.queue, k)
	start := p.workers < p.max
	if start {
		p.workers++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

// pop returns the next socket, or nil (and the worker ends) when the queue is empty.
func (p *writePool) pop() *socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.queue) {
		clear(p.queue)
		p.queue, p.head = p.queue[:0], 0
		p.workers--
		return nil
	}
	k := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	if p.head >= 1024 && 2*p.head >= len(p.queue) { // reclaim the consumed front
		n := copy(p.queue, p.queue[p.head:])
		clear(p.queue[n:])
		p.queue, p.head = p.queue[:n], 0
	}
	return k
}

func (p *writePool) work() {
	var w writeScratch
	for k := p.pop(); k != nil; k = p.pop() {
		k.flush(&w)
	}
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
	// gorilla's own ping and close replies, behind wmu so that they never land inside a batch.
	ws.SetPingHandler(func(data string) error {
		k.controlReply(websocket.PongMessage, []byte(data))
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		k.controlReply(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
		return nil
	})
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

// controlReply writes a control frame the reader owes the client, best effort, as gorilla's
// default handlers do (a protocol error's close frame, which gorilla writes itself, ends the
// connection anyway).
func (k *socket) controlReply(mt int, data []byte) {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	_ = k.ws.WriteControl(mt, data, time.Now().Add(time.Second))
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
