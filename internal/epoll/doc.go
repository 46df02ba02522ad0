// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package epoll is an epoll instance whose waiter parks in the Go runtime's own poller.
//
// The PubSub service keeps its sockets out of the runtime's poller (see pubsub/fdconn and
// pubsub/transport) and waits for them in epoll instances of its own. An epoll instance is
// itself readable while it has events, so each instance is registered, non-blocking, with the
// runtime's poller, and Wait parks as a goroutine until the runtime sees it readable: no
// thread stays blocked in epoll_wait. That matters for latency on an idle machine: the
// goroutine Wait's caller wakes runs on the thread that took the event, right after it,
// instead of waiting for another thread to be woken (the thread in the system call keeps its
// processor), and the runtime's monitor does not find a thread stuck in a system call after
// every quiet spell. Both cost tens of microseconds per chat message, hundreds at the tail
// (measured with per-hop timestamps at 50 messages a second).
//
// Table maps the tokens that an instance's events carry to their members, with a generation,
// so that an event for a member that has left is dropped.
//
// It exists on Linux only; elsewhere the package is empty.
package epoll
