// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"context"
	"errors"

	"github.com/chathub/chathub/internal/mapshrink"
	"github.com/chathub/chathub/webpubsub"
)

// Event kinds, also the "event" label of the metrics.
const (
	kindConnect      = "connect"
	kindConnected    = "connected"
	kindDisconnected = "disconnected"
	kindUser         = "user"
	kindValidate     = "validate"
)

// event is one CloudEvent on its way to a handler.
type event struct {
	kind        string
	info        ConnectionInfo
	name        string // ce-eventName
	ceType      string
	id          uint64
	contentType string
	body        []byte
	handler     *webpubsub.EventHandlerSettings // nil => nothing to deliver
	ctx         context.Context                 // blocking events: the caller's context
	done        chan result                     // blocking events: the answer
	// inline is the queue of a user event that found it idle: the caller's Wait delivers the
	// event itself, without a drain goroutine, and then hands the queue on (see runInline).
	inline *connQueue
}

type result struct {
	resp *response
	err  error
}

// connQueue serialises the events of one connection after connect. A goroutine drains it
// while it has events and exits when it is empty; the queue itself (which numbers the events)
// lives until the connection's disconnected event has been handled.
type connQueue struct {
	key      string
	events   []*event
	running  bool
	finished bool   // disconnected queued: no more events
	nextID   uint64 // ce-id of the next event; connect is 0
}

var errDisconnected = errors.New("the connection has already disconnected")

// enqueue numbers ev and appends it to its connection's queue, starting a drain goroutine when
// none runs. last marks the connection's final event (disconnected), which is never refused
// for a full queue.
func (d *Dispatcher) enqueue(ev *event, last bool) error {
	if ev.handler == nil && ev.kind != kindUser {
		if h, ok := d.handlerFor(ev.info.Hub, ev.name, true); ok {
			ev.handler = h
		}
	}
	key := ev.info.Hub + "\x00" + ev.info.ConnectionID
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	q := d.conns[key]
	if q == nil {
		q = &connQueue{key: key, nextID: 1}
		d.conns[key] = q
		mapshrink.Grown(len(d.conns), &d.peak)
	}
	switch {
	case q.finished:
		return errDisconnected
	case !last && len(q.events) >= d.cfg.QueueSize:
		return ErrQueueFull
	}
	ev.id = q.nextID
	q.nextID++
	if last {
		q.finished = true
	}
	if ev.handler == nil && len(q.events) == 0 && !q.running {
		// Nothing to deliver and nothing ahead of it: skip the goroutine.
		if q.finished {
			d.forget(key)
		}
		return nil
	}
	if ev.kind == kindUser && len(q.events) == 0 && !q.running {
		// Nothing ahead of it: the caller, which waits for the answer anyway, delivers it
		// (PendingUserEvent.Wait) and saves a goroutine and the hand-off to it. The queue is
		// running meanwhile, so that later events wait behind this one.
		q.running = true
		d.wg.Add(1)
		ev.inline = q
		return nil
	}
	q.events = append(q.events, ev)
	if !q.running {
		q.running = true
		d.wg.Add(1)
		go d.drain(q)
	}
	return nil
}

// runInline delivers a user event that found its queue idle on the caller's goroutine, then
// drains the events queued behind it, if any, on a goroutine of their own.
func (d *Dispatcher) runInline(ev *event) {
	q := ev.inline
	d.process(ev)
	d.mu.Lock()
	if len(q.events) > 0 { // the queue stays running: the drain goroutine takes it over
		d.mu.Unlock()
		go d.drain(q)
		return
	}
	d.idle(q)
	d.mu.Unlock()
	d.wg.Done()
}

// idle marks q as having nothing to deliver, and forgets a finished queue; d.mu is held.
func (d *Dispatcher) idle(q *connQueue) {
	q.running = false
	if q.finished {
		d.forget(q.key)
	}
	q.events = nil
}

// forget drops the queue of a finished connection; d.mu is held.
func (d *Dispatcher) forget(key string) {
	delete(d.conns, key)
	d.conns = mapshrink.Shrink(d.conns, &d.peak)
}

// drain delivers the queued events of q one by one until the queue is empty.
func (d *Dispatcher) drain(q *connQueue) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(q.events) == 0 {
			d.idle(q)
			d.mu.Unlock()
			return
		}
		ev := q.events[0]
		q.events[0] = nil
		q.events = q.events[1:]
		d.mu.Unlock()
		d.process(ev)
	}
}

// process delivers one queued event.
func (d *Dispatcher) process(ev *event) {
	if ev.kind == kindUser {
		if err := ev.ctx.Err(); err != nil {
			ev.done <- result{err: err}
			return
		}
		resp, err := d.deliver(ev.ctx, ev.handler, ev)
		ev.done <- result{resp: resp, err: err}
		return
	}
	if ev.handler == nil {
		return
	}
	// Non-blocking events: failures are logged and counted by deliver.
	_, _ = d.deliver(d.baseCtx, ev.handler, ev)
}
