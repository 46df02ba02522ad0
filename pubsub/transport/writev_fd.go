// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux || darwin || freebsd

package transport

import (
	"net"
	"syscall"
	"unsafe"
)

// Non-blocking vectored writes with writev(2) on the socket's descriptor, on the systems where
// the syscall package makes the call directly (Solaris, illumos and AIX lack SYS_WRITEV there;
// OpenBSD only allows system calls from libc). Other systems use writev_other.go.

// sysConn is a socket's file descriptor for non-blocking vectored writes.
type sysConn struct {
	raw syscall.RawConn // nil when the socket is not a file descriptor (then writeBlocking)
}

func newSysConn(nc net.Conn) sysConn {
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			return sysConn{raw: raw}
		}
	}
	return sysConn{}
}

// writeBatch writes w.bufs with non-blocking writev system calls on the socket's descriptor
// (blocked reports a full socket buffer after the first written bytes), or with
// writeBlocking when the socket has no descriptor.
func (k *Socket) writeBatch(w *writeScratch) (written int, blocked bool, err error) {
	if k.sys.raw == nil { // not a file descriptor: an ordinary blocking write
		return 0, false, k.writeBlocking(w.bufs)
	}
	return k.writeRaw(w)
}

// rawScratch is the writev state of a pool worker (see writeFD).
type rawScratch struct {
	iov []syscall.Iovec

	// State of the write in progress.
	pending []syscall.Iovec
	written int
	blocked bool
	werr    error
	writeFn func(fd uintptr) bool
}

// writeRaw writes w.bufs with non-blocking writev system calls on the socket's descriptor
// until everything is written or the socket buffer is full (blocked).
func (k *Socket) writeRaw(w *writeScratch) (written int, blocked bool, err error) {
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
	err = k.sys.raw.Write(w.writeFn)
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

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux and macOS).
const maxIovecs = 1024

// writev is the system call on a non-blocking socket; it never waits, so it is made without
// telling the scheduler (which would cost more than the call saves on a 2-core machine).
func writev(fd uintptr, iov []syscall.Iovec) (int, syscall.Errno) {
	//nolint:gosec // G103: writev takes the address of the iovec array; passing it directly keeps the hot path allocation-free
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	return int(n), errno
}

// advance drops the first n written bytes from iov. Every Len was set from the length of a
// Go slice, so converting it back to int cannot overflow.
func advance(iov []syscall.Iovec, n int) []syscall.Iovec {
	for n > 0 && len(iov) > 0 {
		if l := int(iov[0].Len); n >= l { //nolint:gosec // G115: Len came from a slice length (see above)
			n -= l
			iov = iov[1:]
			continue
		}
		//nolint:gosec // G103: moves the base past the n < Len bytes written, within the same buffer, without allocating
		iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(iov[0].Base), n))
		iov[0].SetLen(int(iov[0].Len) - n) //nolint:gosec // G115: Len came from a slice length (see above)
		n = 0
	}
	return iov
}
