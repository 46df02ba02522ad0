// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build !(linux || darwin || freebsd)

package transport

import "net"

// Systems without writev_fd.go: the batch is still one vectored write (net.Buffers), but a
// blocking one, so a client that does not read holds a pool worker for up to WriteTimeout.

// sysConn is empty where the system has no non-blocking vectored write: every batch is a
// blocking net.Buffers write under WriteTimeout.
type sysConn struct{}

func newSysConn(net.Conn) sysConn { return sysConn{} }

// rawScratch holds no writev state on this system.
type rawScratch struct{}

// writeBatch writes w.bufs with writeBlocking; it never leaves a batch unfinished.
func (k *Socket) writeBatch(w *writeScratch) (written int, blocked bool, err error) {
	return 0, false, k.writeBlocking(w.bufs)
}
