// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package fdconn

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chathub/chathub/internal/epoll"
)

// conn is an accepted TCP socket: a non-blocking descriptor that waits through this package's
// poller instead of Go's.
type conn struct {
	// mu is read-held around every system call on fd (and epoll_ctl), write-held by Close to
	// close it: a closed descriptor's number, which the kernel may give to the next socket, is
	// never used again.
	mu     sync.RWMutex
	fd     int
	closed atomic.Bool

	rlock, wlock sync.Mutex // one Read and one Write at a time (a Write's bytes stay together)

	// Deadlines, as monotonic times since clockBase; 0 for none.
	rdl, wdl atomic.Int64

	// Wait state, under wmu: the channels of the goroutines waiting to read and to write (nil
	// once woken), and the poller token while they wait (0 for none).
	wmu          sync.Mutex
	rwait, wwait chan struct{}
	token        epoll.Token
	added        bool // fd is in the poller's epoll set

	laddr, raddr netip.AddrPort
}

// Wait directions.
const (
	modeRead = iota
	modeWrite
)

// clockBase is the origin of the deadlines: times since it are monotonic.
var clockBase = time.Now()

func monoNow() int64 { return int64(time.Since(clockBase)) }

// direction returns the deadline of mode and the place of its waiter's channel (under wmu).
func (c *conn) direction(mode int) (*atomic.Int64, *chan struct{}) {
	if mode == modeWrite {
		return &c.wdl, &c.wwait
	}
	return &c.rdl, &c.rwait
}

// check reports why an operation cannot go on: the connection is closed or the deadline of
// the direction passed.
func (c *conn) check(mode int) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	dl, _ := c.direction(mode)
	if d := dl.Load(); d != 0 && monoNow() >= d {
		return os.ErrDeadlineExceeded
	}
	return nil
}

// Read reads from the socket, waiting for bytes until the read deadline.
func (c *conn) Read(b []byte) (int, error) {
	c.rlock.Lock()
	defer c.rlock.Unlock()
	for {
		if err := c.check(modeRead); err != nil {
			return 0, c.opError("read", err)
		}
		if len(b) == 0 {
			return 0, nil
		}
		c.mu.RLock()
		if c.closed.Load() {
			c.mu.RUnlock()
			continue // check reports it
		}
		n, err := syscall.Read(c.fd, b)
		c.mu.RUnlock()
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			if err := c.wait(modeRead); err != nil {
				return 0, c.opError("read", err)
			}
		default:
			return 0, c.opError("read", os.NewSyscallError("read", err))
		}
	}
}

// Write writes all of b, waiting for room in the socket buffer until the write deadline.
func (c *conn) Write(b []byte) (int, error) {
	c.wlock.Lock()
	defer c.wlock.Unlock()
	written := 0
	for {
		if err := c.check(modeWrite); err != nil {
			return written, c.opError("write", err)
		}
		if written == len(b) {
			return written, nil
		}
		c.mu.RLock()
		if c.closed.Load() {
			c.mu.RUnlock()
			continue
		}
		n, err := syscall.Write(c.fd, b[written:])
		c.mu.RUnlock()
		if n > 0 {
			written += n
		}
		switch {
		case err == nil && n == 0:
			return written, c.opError("write", io.ErrUnexpectedEOF) // as the net package: no progress
		case err == nil, errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			if err := c.wait(modeWrite); err != nil {
				return written, c.opError("write", err)
			}
		default:
			return written, c.opError("write", os.NewSyscallError("write", err))
		}
	}
}

// wait waits until the poller reports the socket ready for mode, the deadline of mode passes
// or changes, or the connection closes; the caller checks which and tries again.
func (c *conn) wait(mode int) error {
	dl, waiter := c.direction(mode)
	ch := make(chan struct{}, 1)
	c.wmu.Lock()
	if err := c.check(mode); err != nil { // a deadline set or a Close before we registered
		c.wmu.Unlock()
		return err
	}
	d := dl.Load()
	*waiter = ch
	if err := thePoller().arm(c); err != nil {
		*waiter = nil
		c.releaseIfUnwaited()
		c.wmu.Unlock()
		return err
	}
	c.wmu.Unlock()
	if d == 0 {
		<-ch
	} else {
		t := time.NewTimer(time.Duration(d - monoNow()))
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
	c.wmu.Lock()
	if *waiter == ch {
		*waiter = nil
	}
	c.releaseIfUnwaited()
	c.wmu.Unlock()
	return nil
}

// releaseIfUnwaited takes c out of the poller's table once no goroutine waits on it; under
// wmu.
func (c *conn) releaseIfUnwaited() {
	if c.rwait == nil && c.wwait == nil {
		thePoller().release(c)
	}
}

// wake wakes the goroutines waiting on c for the given directions; under wmu.
func (c *conn) wake(read, write bool) {
	if read && c.rwait != nil {
		c.rwait <- struct{}{}
		c.rwait = nil
	}
	if write && c.wwait != nil {
		c.wwait <- struct{}{}
		c.wwait = nil
	}
}

// Close closes the socket; waiting reads and writes return net.ErrClosed.
func (c *conn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return c.opError("close", net.ErrClosed)
	}
	c.wmu.Lock()
	c.wake(true, true)
	thePoller().release(c)
	c.wmu.Unlock()
	c.mu.Lock() // no system call in flight from here on
	err := syscall.Close(c.fd)
	c.fd = -1
	c.mu.Unlock()
	if err != nil {
		return c.opError("close", os.NewSyscallError("close", err))
	}
	return nil
}

// CloseWrite shuts down the writing side of the socket (net/http uses it before closing).
func (c *conn) CloseWrite() error { return c.shutdown("close-write", syscall.SHUT_WR) }

// CloseRead shuts down the reading side of the socket.
func (c *conn) CloseRead() error { return c.shutdown("close-read", syscall.SHUT_RD) }

func (c *conn) shutdown(op string, how int) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return c.opError(op, net.ErrClosed)
	}
	if err := syscall.Shutdown(c.fd, how); err != nil {
		return c.opError(op, os.NewSyscallError("shutdown", err))
	}
	return nil
}

// LocalAddr returns the socket's local address, a *net.TCPAddr.
func (c *conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.laddr) }

// RemoteAddr returns the client's address, a *net.TCPAddr.
func (c *conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.raddr) }

// SetDeadline sets the read and write deadlines.
func (c *conn) SetDeadline(t time.Time) error { return c.setDeadline(t, true, true) }

// SetReadDeadline sets the read deadline; a waiting Read looks at it at once.
func (c *conn) SetReadDeadline(t time.Time) error { return c.setDeadline(t, true, false) }

// SetWriteDeadline sets the write deadline; a waiting Write looks at it at once.
func (c *conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(t, false, true) }

func (c *conn) setDeadline(t time.Time, read, write bool) error {
	if c.closed.Load() {
		return c.opError("set", net.ErrClosed)
	}
	var d int64
	if !t.IsZero() {
		if d = monoNow() + int64(time.Until(t)); d == 0 {
			d = -1 // 0 means none
		}
	}
	if read {
		c.rdl.Store(d)
	}
	if write {
		c.wdl.Store(d)
	}
	c.wmu.Lock()
	c.wake(read, write)
	c.wmu.Unlock()
	return nil
}

// opError wraps err as the net package does.
func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// SyscallConn returns the descriptor for system calls; its Read and Write wait through the
// same poller as the connection's.
func (c *conn) SyscallConn() (syscall.RawConn, error) { return rawConn{c}, nil }

// rawConn is the syscall.RawConn of a conn.
type rawConn struct{ c *conn }

// Control calls f with the descriptor, which stays open until f returns.
func (r rawConn) Control(f func(fd uintptr)) error {
	c := r.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return c.opError("raw-control", net.ErrClosed)
	}
	f(uintptr(c.fd))
	return nil
}

// Read calls f with the descriptor until it returns true, waiting for bytes to read in
// between, until the read deadline.
func (r rawConn) Read(f func(fd uintptr) bool) error {
	c := r.c
	c.rlock.Lock()
	defer c.rlock.Unlock()
	return c.rawLoop("raw-read", modeRead, f)
}

// Write calls f with the descriptor until it returns true, waiting for room in the socket
// buffer in between, until the write deadline.
func (r rawConn) Write(f func(fd uintptr) bool) error {
	c := r.c
	c.wlock.Lock()
	defer c.wlock.Unlock()
	return c.rawLoop("raw-write", modeWrite, f)
}

func (c *conn) rawLoop(op string, mode int, f func(fd uintptr) bool) error {
	for {
		if err := c.check(mode); err != nil {
			return c.opError(op, err)
		}
		c.mu.RLock()
		if c.closed.Load() {
			c.mu.RUnlock()
			continue
		}
		done := f(uintptr(c.fd))
		c.mu.RUnlock()
		if done {
			return nil
		}
		if err := c.wait(mode); err != nil {
			return c.opError(op, err)
		}
	}
}
