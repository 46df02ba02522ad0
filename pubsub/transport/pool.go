// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// writePool writes queued frames to sockets with at most max goroutines: a broadcast to
// 10,000 sockets queues 10,000 sockets here instead of starting 10,000 goroutines, and a
// socket waiting in the queue gathers more frames for the same write. Workers start when
// sockets are queued and end when the queue is empty. Each Transport has its own.
type writePool struct {
	mu      sync.Mutex
	queue   []*Socket
	head    int
	workers int
	max     int

	handoffs atomic.Int64 // batches finished by Socket.finishBlocked (see Stats)
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
	if p.head == len(p.queue) {
		clear(p.queue)
		p.queue, p.head = p.queue[:0], 0
		p.workers--
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
