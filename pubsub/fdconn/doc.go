// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package fdconn accepts the PubSub service's client TCP connections as plain non-blocking
// file descriptors, outside Go's network poller.
//
// # Why
//
// Every socket that Go's net package accepts is registered with the runtime's network poller,
// which gives it a poll descriptor (about 550 bytes in Go 1.26) taken from memory that the
// runtime never frees, only reuses: after 10,000 WebSocket clients left, the service kept
// 5.5 MiB of them (runtime.MemStats.OtherSys) for good, as much as everything else the closed
// connections left behind. The service's sockets hardly need the runtime poller: once upgraded,
// pubsub/transport reads them through its own epoll instance and writes them with
// non-blocking writev system calls.
//
// # How
//
// On Linux, Listen returns a listener whose Accept takes descriptors with accept4
// (SOCK_NONBLOCK|SOCK_CLOEXEC) inside the listening socket's own RawConn.Read, so only the
// listener waits in the runtime poller. Its connections set TCP_NODELAY and TCP keep-alive as
// the net package does (15 s idle, 15 s interval, 9 probes), and implement net.Conn,
// CloseWrite and syscall.Conn over the descriptor: Read and Write try the non-blocking system
// call first and, when it would block, arm the descriptor for one event (EPOLLONESHOT) in one
// process-wide epoll instance of this package and wait for it, for a deadline or for Close.
// A connection is known to that instance only while a goroutine waits on it (a slot whose
// token carries a generation, so that a late event never reaches the next connection in the
// slot), so idle upgraded sockets cost it nothing. Deadlines and Close wake the waiters, which
// then return os.ErrDeadlineExceeded or net.ErrClosed in a *net.OpError, as the net package
// does; net/http's interruption of a background read with a past read deadline works the
// same way. The descriptor is closed only when no system call on it is in flight (a
// sync.RWMutex read-held around each call), so a descriptor number reused by the kernel is
// never read, written or re-armed by a connection that closed. RawConn.Read and Write wait
// through the same mechanism, which is all pubsub/transport needs of a hijacked socket.
//
// Other systems get the net package's listener.
package fdconn
