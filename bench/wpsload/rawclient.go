// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The fan-out clients are deliberately cheap, so that the harness measures the service and
// not itself: they are raw file descriptors read by a few epoll loops (one read system call
// per readable socket, no goroutine per connection), frames are parsed in place, and the
// send time is read from the payload's leading digits without decoding anything else. Every
// frame is still counted per connection, so the harness checks that each member received
// every message.

// rawConn is one client connection, owned by one poller after the handshake.
type rawConn struct {
	fd      int
	pending []byte       // the start of a frame split across reads
	got     atomic.Int64 // data frames received in the current scenario
	closed  atomic.Bool
}

// helloFunc runs a protocol's opening exchange on a connection right after the WebSocket
// handshake (still blocking, with the dial's deadline), given the bytes already read after
// the handshake; it returns the bytes it read beyond the exchange.
type helloFunc func(nc net.Conn, pending []byte) ([]byte, error)

// dialRaw opens a WebSocket connection to a client URL (ws://…) with a minimal handshake,
// runs hello (if any) and returns its descriptor, detached from Go's poller.
func dialRaw(rawURL string, timeout time.Duration, hello helloFunc) (*rawConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout("tcp", u.Host, timeout)
	if err != nil {
		return nil, err
	}
	defer func() { _ = nc.Close() }() // the duplicate descriptor below keeps the socket open
	_ = nc.SetDeadline(time.Now().Add(timeout))
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return nil, err
	}
	var head []byte
	buf := make([]byte, 1024)
	end := -1
	for end < 0 {
		n, err := nc.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("reading the handshake response: %w", err)
		}
		head = append(head, buf[:n]...)
		end = bytes.Index(head, []byte("\r\n\r\n"))
		if len(head) > 16<<10 {
			return nil, errors.New("handshake response too long")
		}
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
		line, _, _ := bytes.Cut(head, []byte("\r\n"))
		return nil, fmt.Errorf("handshake refused: %s", line)
	}
	rest := head[end+4:]
	if hello != nil {
		if rest, err = hello(nc, rest); err != nil {
			return nil, err
		}
	}
	sc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := sc.Control(func(f uintptr) { fd, derr = syscall.Dup(int(f)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	syscall.CloseOnExec(fd)
	c := &rawConn{fd: fd}
	if len(rest) > 0 {
		c.pending = append([]byte(nil), rest...)
	}
	return c, nil
}

// pollers reads the connections with epoll loops.
type pollers struct {
	loops []*poller
	stop  atomic.Bool
	wg    sync.WaitGroup
}

type poller struct {
	epfd  int
	conns map[int]*rawConn // by file descriptor
	mu    sync.Mutex       // guards conns while connections are added
	buf   []byte
	owner *fleet
}

func newPollers(f *fleet, n int, interval time.Duration) (*pollers, error) {
	p := &pollers{}
	for range n {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			p.close()
			return nil, err
		}
		p.loops = append(p.loops, &poller{epfd: epfd, conns: map[int]*rawConn{}, buf: make([]byte, 256<<10), owner: f})
	}
	for _, l := range p.loops {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); l.run(&p.stop, interval) }()
	}
	return p, nil
}

// add hands a connection to a poller; bytes read during the handshake are parsed first.
func (p *pollers) add(i int, c *rawConn) error {
	l := p.loops[i%len(p.loops)]
	l.mu.Lock()
	l.conns[c.fd] = c
	l.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)} //nolint:gosec // G115: the kernel's descriptors are C ints
	return syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev)
}

func (p *pollers) close() {
	p.stop.Store(true)
	p.wg.Wait()
	for _, l := range p.loops {
		_ = syscall.Close(l.epfd)
	}
}

// run reads the poller's connections until stop. With an interval, the loop does not sleep
// in epoll_wait: it polls, and when nothing is ready it sleeps for the interval. The
// service's writes then find no client thread to wake (waking one is part of every write
// on loopback), and each poll finds a batch of ready sockets; a receipt is seen at most one
// interval late, which the latencies include.
func (l *poller) run(stop *atomic.Bool, interval time.Duration) {
	events := make([]syscall.EpollEvent, 1024)
	timeout := 100
	if interval > 0 {
		timeout = 0
	}
	for !stop.Load() {
		n, err := syscall.EpollWait(l.epfd, events, timeout)
		if interval > 0 && n == 0 && err == nil {
			time.Sleep(interval)
			continue
		}
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			l.mu.Lock()
			c := l.conns[int(ev.Fd)]
			l.mu.Unlock()
			if c != nil {
				l.read(c)
			}
		}
	}
}

// read reads what the socket holds (one system call) and handles every complete frame.
func (l *poller) read(c *rawConn) {
	b := l.buf
	k := copy(b, c.pending)
	n, err := syscall.Read(c.fd, b[k:])
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || n == 0 {
		l.drop(c)
		return
	}
	rest := l.frames(c, b[:k+n])
	c.pending = append(c.pending[:0], rest...)
}

// frames handles the complete frames at the start of b and returns the incomplete rest.
func (l *poller) frames(c *rawConn, b []byte) []byte {
	for {
		op, payload, rest, ok := nextFrame(b)
		if !ok {
			return b
		}
		switch op {
		case 0x1, 0x2:
			r := l.owner.rec.Load()
			if n := stamps(payload, r); n > 0 {
				c.got.Add(int64(n))
			} else if op == 0x1 && isCentrifugoPing(payload) {
				_, _ = syscall.Write(c.fd, maskedFrame(0x81, []byte("{}")))
			}
		case 0x9: // ping: answer with a masked pong carrying the same payload
			if len(payload) <= 125 {
				_, _ = syscall.Write(c.fd, maskedFrame(0x8a, payload))
			}
		case 0x8:
			l.drop(c)
			return nil
		}
		b = rest
	}
}

// nextFrame splits the first complete frame off b: its opcode, its payload and the bytes
// after it; ok is false while the frame is incomplete. Server frames are unmasked (RFC 6455
// §5.1).
func nextFrame(b []byte) (op byte, payload, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, b, false
	}
	op = b[0] & 0x0f
	size, hdr := uint64(b[1]&0x7f), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return 0, nil, b, false
		}
		size, hdr = uint64(b[2])<<8|uint64(b[3]), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, b, false
		}
		size = 0
		for _, x := range b[2:10] {
			size = size<<8 | uint64(x)
		}
		hdr = 10
	}
	if uint64(len(b)-hdr) < size { //nolint:gosec // G115: hdr <= len(b), checked above
		return 0, nil, b, false
	}
	return op, b[hdr : hdr+int(size)], b[hdr+int(size):], true
}

// stampKey starts the send time in the JSON payloads of the comparison (makePayload).
var stampKey = []byte(`{"t":`)

// stamps counts the harness's messages in a data frame's payload and records each one's
// latency with r (when r is not nil). A payload is one message with the send time in front
// ("<nanos>|…", the PubSub scenarios), or holds one or more JSON messages each starting
// with {"t":<nanos>, (the comparison's payload, which Centrifugo wraps in its push
// envelope and may batch, one per line).
func stamps(p []byte, r *recorder) int {
	if sent, ok := leadingNanos(p); ok {
		if r != nil {
			r.add(sent)
		}
		return 1
	}
	n := 0
	for {
		i := bytes.Index(p, stampKey)
		if i < 0 {
			return n
		}
		p = p[i+len(stampKey):]
		var v int64
		digits := 0
		for digits < len(p) && digits < 19 && p[digits] >= '0' && p[digits] <= '9' {
			v = v*10 + int64(p[digits]-'0')
			digits++
		}
		if digits == 0 {
			continue
		}
		n++
		if r != nil {
			r.add(v)
		}
	}
}

// isCentrifugoPing reports whether a text payload holds Centrifugo's ping, an empty JSON
// object on a line of its own (possibly batched with other replies), which the client must
// answer with {} (https://centrifugal.dev/docs/transports/client_protocol#ping-pong).
func isCentrifugoPing(p []byte) bool {
	for len(p) > 0 {
		line, rest, _ := bytes.Cut(p, []byte{'\n'})
		if string(line) == "{}" {
			return true
		}
		p = rest
	}
	return false
}

// maskedFrame returns a final client frame (first byte b0: FIN and the opcode) carrying
// payload with an all-zero mask, which leaves the payload as is.
func maskedFrame(b0 byte, payload []byte) []byte {
	n := len(payload)
	f := make([]byte, 0, 14+n)
	switch {
	case n < 126:
		f = append(f, b0, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, b0, 0x80|126, byte(n>>8), byte(n)) //nolint:gosec // G115: n < 1<<16 in this case
	default:
		f = append(f, b0, 0x80|127)
		for i := 7; i >= 0; i-- {
			f = append(f, byte(uint64(n)>>(8*i))) //nolint:gosec // G115: a length is never negative
		}
	}
	f = append(f, 0, 0, 0, 0)
	return append(f, payload...)
}

// leadingNanos parses the send time the harness puts in front of each payload ("<nanos>|…").
func leadingNanos(p []byte) (int64, bool) {
	var v int64
	for i, ch := range p {
		if ch == '|' {
			return v, i > 0
		}
		if ch < '0' || ch > '9' || i > 19 {
			return 0, false
		}
		v = v*10 + int64(ch-'0')
	}
	return 0, false
}

func (l *poller) drop(c *rawConn) {
	if c.closed.Swap(true) {
		return
	}
	_ = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	l.mu.Lock()
	delete(l.conns, c.fd)
	l.mu.Unlock()
}
