// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package fdconn

import (
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/chathub/chathub/internal/epoll"
)

// poller is the process-wide epoll instance that connections wait in. A connection is in its
// table only while a goroutine waits on it; an event that arrives after the wait ended (a
// deadline, a Close) carries a token the table no longer has and is dropped.
type poller struct {
	ep    *epoll.Instance
	err   error // why there is no epoll instance
	conns epoll.Table[*conn]
}

var (
	pollerOnce sync.Once
	thePollerP *poller
)

// thePoller returns the poller, started on first use.
func thePoller() *poller {
	pollerOnce.Do(func() {
		p := &poller{}
		if p.ep, p.err = epoll.New(128); p.err == nil {
			go p.run()
		}
		thePollerP = p
	})
	return thePollerP
}

// arm registers c's waiters (c.rwait, c.wwait) for one event; under c.wmu.
func (p *poller) arm(c *conn) error {
	if p.err != nil {
		return p.err
	}
	if c.token == 0 {
		c.token = p.conns.Add(c)
	}
	var events uint32 = epoll.OneShot
	if c.rwait != nil {
		events |= syscall.EPOLLIN | syscall.EPOLLRDHUP
	}
	if c.wwait != nil {
		events |= syscall.EPOLLOUT
	}
	ev := c.token.Event(events)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return net.ErrClosed
	}
	op := syscall.EPOLL_CTL_MOD
	if !c.added {
		op = syscall.EPOLL_CTL_ADD
	}
	if err := syscall.EpollCtl(p.ep.FD(), op, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	c.added = true
	return nil
}

// release takes c out of the table (a later event for it is dropped); under c.wmu.
func (p *poller) release(c *conn) {
	if c.token != 0 {
		p.conns.Remove(c.token)
		c.token = 0
	}
}

// run waits for events for as long as the process lives (parked in the Go runtime's poller
// between them: see internal/epoll) and wakes the waiters.
func (p *poller) run() {
	var batch []epoll.Ready[*conn]
	for {
		batch = p.conns.Lookup(p.ep.Wait(), batch[:0])
		for i, r := range batch {
			r.V.ready(r.Token, r.Events)
			batch[i] = epoll.Ready[*conn]{}
		}
	}
}

// ready wakes the waiters an event of token is for, and arms c again for those still
// waiting (the event was for one direction only).
func (c *conn) ready(token epoll.Token, events uint32) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.token != token {
		return // the wait ended meanwhile
	}
	const failed = syscall.EPOLLERR | syscall.EPOLLHUP
	c.wake(events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|failed) != 0, events&(syscall.EPOLLOUT|failed) != 0)
	if c.rwait == nil && c.wwait == nil {
		return // the woken waiters release the slot
	}
	if err := thePoller().arm(c); err != nil {
		c.wake(true, true) // they meet the error themselves
	}
}
