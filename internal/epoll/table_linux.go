// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package epoll

import (
	"sync"
	"syscall"
)

// OneShot is EPOLLONESHOT, which the syscall package lacks on some architectures.
const OneShot = 0x40000000

// Token names a member of an instance in its events: a slot of a Table and the generation the
// slot had when the member was added, so that an event still on its way for a member that has
// left (or whose slot went to another) is dropped. 0 is no token.
type Token uint64

// Event is the epoll_event that registers the member of t for the events ev.
func (t Token) Event(ev uint32) syscall.EpollEvent {
	return syscall.EpollEvent{
		Events: ev,
		Fd:     int32(uint32(t >> 32)), //nolint:gosec // G115: the token's bits, taken back as they were by tokenOf
		Pad:    int32(uint32(t)),       //nolint:gosec // G115: likewise
	}
}

// tokenOf is the token an event carries.
func tokenOf(ev *syscall.EpollEvent) Token {
	return Token(uint64(uint32(ev.Fd))<<32 | uint64(uint32(ev.Pad))) //nolint:gosec // G115: the bits Event stored
}

// Table maps the tokens of an instance's members to their values. Once it is empty after
// holding more than shrinkSlots members, it drops its tables: a burst of members does not
// keep its room for good.
type Table[T comparable] struct {
	mu    sync.Mutex
	slots []slot[T]
	free  []uint32
	used  int
	gen   uint32
}

type slot[T comparable] struct {
	v   T
	gen uint32 // 0: free
}

// shrinkSlots is the table size above which an emptied table is dropped.
const shrinkSlots = 256

// Add stores v and returns its token.
func (t *Table[T]) Add(v T) Token {
	t.mu.Lock()
	defer t.mu.Unlock()
	var i uint32
	if n := len(t.free); n > 0 {
		i, t.free = t.free[n-1], t.free[:n-1]
	} else {
		i = uint32(len(t.slots)) //nolint:gosec // G115: far fewer members than 2³² fit a process
		t.slots = append(t.slots, slot[T]{})
	}
	if t.gen++; t.gen == 0 {
		t.gen = 1 // generation 0 marks a free slot
	}
	t.slots[i] = slot[T]{v: v, gen: t.gen}
	t.used++
	return Token(uint64(i)<<32 | uint64(t.gen))
}

// Remove forgets the member of tok; a later event for it finds nothing. A stale token does
// nothing.
func (t *Table[T]) Remove(tok Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, gen := uint32(tok>>32), uint32(tok) //nolint:gosec // G115: the token's two halves
	if gen == 0 || int(i) >= len(t.slots) || t.slots[i].gen != gen {
		return
	}
	t.slots[i] = slot[T]{}
	t.free = append(t.free, i)
	if t.used--; t.used == 0 && len(t.slots) > shrinkSlots {
		t.slots, t.free = nil, nil
	}
}

// Ready is a member an event is for.
type Ready[T comparable] struct {
	V      T
	Token  Token
	Events uint32
}

// Lookup appends to dst the members that events are for, in order, skipping the events of
// members no longer in the table.
func (t *Table[T]) Lookup(events []syscall.EpollEvent, dst []Ready[T]) []Ready[T] {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range events {
		tok := tokenOf(&events[k])
		i, gen := uint32(tok>>32), uint32(tok) //nolint:gosec // G115: the token's two halves
		if int(i) < len(t.slots) && gen != 0 && t.slots[i].gen == gen {
			dst = append(dst, Ready[T]{V: t.slots[i].v, Token: tok, Events: events[k].Events})
		}
	}
	return dst
}

// Each calls f with every member, under the table's lock (f must not call the table).
func (t *Table[T]) Each(f func(T)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.slots {
		if s.gen != 0 {
			f(s.v)
		}
	}
}
