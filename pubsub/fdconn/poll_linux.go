// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package fdconn

import (
	"github.com/chathub/chathub/internal/epoll"
	"net"
	"os"
	"sync"
	"syscall"
)

// poller is the process-wide epoll instance that connections wait in. A connection has a slot
// only while a goroutine waits on it; its token is the slot and a generation, so an event
// that arrives after the wait ended (a deadline, a Close) finds a token that no longer
// matches and is dropped.
type poller struct {
	ep    *epoll.Instance
	epfd  int
	err   error // why there is no epoll instance
	mu    sync.Mutex
	slots []*conn
	free  []uint32
	used  int
	gen   uint32
}

// epollOneShot is EPOLLONESHOT, which the syscall package lacks on some architectures.
const epollOneShot = 0x40000000

// shrinkSlots is the slot table size above which an empty table is dropped, so that a burst of
// waiting connections does not keep its table for good.
const shrinkSlots = 256

var (
	pollerOnce sync.Once
	thePollerP *poller
)

// thePoller returns the poller, started on first use.
func thePoller() *poller {
	pollerOnce.Do(func() {
		p := &poller{}
		if p.ep, p.err = epoll.New(128); p.err == nil {
			p.epfd = p.ep.FD()
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
		p.mu.Lock()
		var slot uint32
		if n := len(p.free); n > 0 {
			slot, p.free = p.free[n-1], p.free[:n-1]
		} else {
			slot = uint32(len(p.slots)) //nolint:gosec // G115: far fewer waiting sockets than 2³² fit a process
			p.slots = append(p.slots, nil)
		}
		if p.gen++; p.gen == 0 {
			p.gen = 1 // token 0 means none
		}
		p.slots[slot] = c
		p.used++
		c.token = uint64(slot)<<32 | uint64(p.gen)
		p.mu.Unlock()
	}
	ev := syscall.EpollEvent{
		Events: epollOneShot,
		Fd:     int32(c.token >> 32), //nolint:gosec // G115: the token's bits, taken back as they were by run
		Pad:    int32(c.token),       //nolint:gosec // G115: likewise
	}
	if c.rwait != nil {
		ev.Events |= syscall.EPOLLIN | syscall.EPOLLRDHUP
	}
	if c.wwait != nil {
		ev.Events |= syscall.EPOLLOUT
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return net.ErrClosed
	}
	op := syscall.EPOLL_CTL_MOD
	if !c.added {
		op = syscall.EPOLL_CTL_ADD
	}
	if err := syscall.EpollCtl(p.epfd, op, c.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	c.added = true
	return nil
}

// release frees c's slot (a later event for it is dropped); under c.wmu.
func (p *poller) release(c *conn) {
	if c.token == 0 {
		return
	}
	slot := uint32(c.token >> 32)
	c.token = 0
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slots[slot] = nil
	p.free = append(p.free, slot)
	if p.used--; p.used == 0 && len(p.slots) > shrinkSlots {
		p.slots, p.free = nil, nil
	}
}

// run waits for events for as long as the process lives (parked in the Go runtime's poller
// between them: see internal/epoll) and wakes the waiters.
func (p *poller) run() {
	type ready struct {
		c      *conn
		token  uint64
		events uint32
	}
	var batch []ready
	for {
		events := p.ep.Wait()
		p.mu.Lock()
		for _, ev := range events {
			slot := uint32(ev.Fd)                              //nolint:gosec // G115: the bits arm stored
			token := uint64(slot)<<32 | uint64(uint32(ev.Pad)) //nolint:gosec // G115: the bits arm stored
			if int(slot) < len(p.slots) {
				if c := p.slots[slot]; c != nil {
					batch = append(batch, ready{c, token, ev.Events})
				}
			}
		}
		p.mu.Unlock()
		for i, r := range batch {
			r.c.ready(r.token, r.events)
			batch[i] = ready{}
		}
		batch = batch[:0]
	}
}

// ready wakes the waiters an event of token is for, and arms c again for those still
// waiting (the event was for one direction only).
func (c *conn) ready(token uint64, events uint32) {
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
