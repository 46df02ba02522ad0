// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// writePool writes queued frames to sockets with at most max goroutines: a broadcast to
// 10,000 sockets queues 10,000 sockets here instead of starting 10,000 goroutines, and a
// socket waiting in the queue gathers more frames for the same write. Workers start when
// sockets are queued and end when the queue is empty. Each Transport has its own.
//
// A socket that has frames again within coalesce of its last write waits in deferred until
// the next tick (at most coalesce later) and gathers the frames of that time for one write:
// a socket gets at most about one write per coalesce. Each write to a loopback or LAN client
// costs a system call here and a wake-up and a read at the client, so under many broadcasts a
// second (thousands of chat messages a second to every user) the writes, not the messages,
// are the cost; a socket with frames at most every coalesce (any chat a person types in) is
// written at once, as before.
type writePool struct {
	mu      sync.Mutex
	queue   []*Socket
	head    int
	workers int
	max     int

	coalesce time.Duration
	now      func() time.Duration // monotonic time since the pool started (tests replace it)
	deferred []*Socket            // sockets waiting for the next tick (their writing is true)
	spare    []*Socket            // the previous tick's deferred, reused
	ticking  bool                 // a tick goroutine runs

	handoffs  atomic.Int64 // batches finished by Socket.finishBlocked (see Stats)
	deferrals atomic.Int64 // sockets that waited for a tick (see Stats)
}

func newWritePool(workers int, coalesce time.Duration) *writePool {
	start := time.Now()
	return &writePool{max: workers, coalesce: coalesce, now: func() time.Duration { return time.Since(start) }}
}

// notify queues a socket that has frames again: at once, or at the next tick when it was
// written less than coalesce ago.
func (p *writePool) notify(k *Socket) {
	if p.coalesce > 0 {
		if last := k.lastWrite.Load(); last != 0 && p.now()-time.Duration(last) < p.coalesce {
			p.deferrals.Add(1)
			p.mu.Lock()
			p.deferred = append(p.deferred, k)
			start := !p.ticking
			p.ticking = true
			p.mu.Unlock()
			if start {
				go p.tick()
			}
			return
		}
	}
	p.push(k)
}

// tick moves the deferred sockets to the queue every coalesce until none is left.
func (p *writePool) tick() {
	t := time.NewTimer(p.coalesce)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		due := p.deferred
		if len(due) == 0 {
			p.ticking = false
			p.mu.Unlock()
			return
		}
		p.deferred, p.spare = p.spare[:0], due
		p.queue = append(p.queue, due...)
		clear(due)
		start := min(p.max-p.workers, len(p.queue)-p.head)
		p.workers += start
		p.mu.Unlock()
		for range start {
			go p.work()
		}
		t.Reset(p.coalesce)
	}
}

func (p *writePool) push(k *Socket) {
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
func (p *writePool) pop() *Socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.take()
	if k == nil {
		p.workers--
	}
	return k
}

// take removes the next socket from the queue, or returns nil when it is empty; p.mu is held.
func (p *writePool) take() *Socket {
	if p.head == len(p.queue) {
		clear(p.queue)
		p.queue, p.head = p.queue[:0], 0
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

// help writes at most max queued sockets on the caller's goroutine. A caller that has just
// queued a broadcast (a REST send) writes the first sockets itself, at once: a new worker runs
// only once the caller's goroutine parks, or on another thread that has to be woken first,
// which costs tens of microseconds on an idle machine (hundreds at the tail; measured on the
// chat path at 50 messages a second). The workers already started take the rest meanwhile.
// max bounds the caller's delay (its reply waits).
func (p *writePool) help(max int) {
	if max <= 0 {
		return
	}
	w := helpScratches.Get().(*writeScratch)
	defer helpScratches.Put(w)
	for range max {
		p.mu.Lock()
		k := p.take()
		p.mu.Unlock()
		if k == nil {
			return
		}
		k.flush(w)
	}
}

// helpScratches are the write scratch spaces of callers that help (see help).
var helpScratches = sync.Pool{New: func() any { return new(writeScratch) }}

// yieldEvery is how many sockets a worker flushes before it lets other goroutines run. A
// flush rarely blocks (the sockets are non-blocking), so without yielding a worker keeps its
// processor until the scheduler preempts it, 10 ms later: a REST request or a client frame that
// became ready meanwhile would wait that long (measured: 8 ms per REST broadcast in the
// many-senders chat benchmark). Yielding costs well under 1 % of the flushes' time.
const yieldEvery = 16

func (p *writePool) work() {
	var w writeScratch
	n := 0
	for k := p.pop(); k != nil; k = p.pop() {
		k.flush(&w)
		if n++; n%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}
