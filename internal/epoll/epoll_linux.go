// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package epoll

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// Instance is one epoll instance.
type Instance struct {
	fd       int
	file     *os.File        // owns fd (kept reachable: its finalizer would close it)
	raw      syscall.RawConn // fd in the runtime's poller
	blocking bool            // the runtime could not poll fd: Wait blocks in epoll_wait
	events   []syscall.EpollEvent
	n        int
	takeFn   func(fd uintptr) bool // take, made once (a method value passed on allocates)
}

// New creates an instance; size is the most events one Wait returns.
func New(size int) (*Instance, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "epoll") // non-blocking: registered with the runtime's poller
	raw, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	e := &Instance{fd: fd, file: f, raw: raw, events: make([]syscall.EpollEvent, max(size, 1))}
	e.takeFn = e.take
	return e, nil
}

// FD is the instance's descriptor, for epoll_ctl.
func (e *Instance) FD() int { return e.fd }

// Wait waits until there are events and returns them; they are valid until the next Wait.
// Only one goroutine may wait at a time.
func (e *Instance) Wait() []syscall.EpollEvent {
	for {
		if !e.blocking {
			// take looks without blocking; false parks until the runtime's poller sees the
			// instance readable again (edge-triggered there: every new event of a member makes
			// it readable anew, so none is missed between the look and the park).
			if err := e.raw.Read(e.takeFn); err == nil {
				if e.n > 0 {
					return e.events[:e.n]
				}
				continue // EINTR: look again
			}
			e.blocking = true
		}
		n, err := syscall.EpollWait(e.fd, e.events, -1)
		if err != nil {
			if !errors.Is(err, syscall.EINTR) {
				time.Sleep(10 * time.Millisecond) // cannot happen with a valid instance; do not spin
			}
			continue
		}
		return e.events[:n]
	}
}

func (e *Instance) take(fd uintptr) bool {
	n, err := syscall.EpollWait(int(fd), e.events, 0)
	if err != nil {
		e.n = 0
		return errors.Is(err, syscall.EINTR) // look again at once: events may wait unannounced
	}
	e.n = n
	return n > 0
}
