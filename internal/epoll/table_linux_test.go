// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package epoll

import (
	"syscall"
	"testing"
)

// The events of members that left, or whose slot went to another member, find nothing.
func TestTableDropsTheEventsOfMembersThatLeft(t *testing.T) {
	var tb Table[string]
	a, b := tb.Add("a"), tb.Add("b")
	tb.Remove(a)
	c := tb.Add("c") // takes a's slot, with a new generation
	if uint32(c>>32) != uint32(a>>32) || c == a {
		t.Fatalf("tokens a=%x c=%x: want c in a's slot with another generation", a, c)
	}
	tb.Remove(a) // stale: must not remove c
	events := []syscall.EpollEvent{a.Event(syscall.EPOLLIN), b.Event(syscall.EPOLLOUT), c.Event(syscall.EPOLLIN)}
	got := tb.Lookup(events, nil)
	if len(got) != 2 || got[0].V != "b" || got[0].Events != syscall.EPOLLOUT || got[1].V != "c" || got[1].Token != c {
		t.Fatalf("Lookup = %+v, want b (EPOLLOUT) then c", got)
	}
	var each []string
	tb.Each(func(v string) { each = append(each, v) })
	if len(each) != 2 {
		t.Fatalf("Each visited %v, want b and c", each)
	}
}

// An emptied table that held more than shrinkSlots members gives its room back.
func TestTableDropsItsRoomWhenEmptied(t *testing.T) {
	var tb Table[int]
	toks := make([]Token, shrinkSlots+1)
	for i := range toks {
		toks[i] = tb.Add(i)
	}
	for _, tok := range toks[1:] {
		tb.Remove(tok)
	}
	if cap(tb.slots) == 0 {
		t.Fatal("the table dropped its room with a member left")
	}
	tb.Remove(toks[0])
	if tb.slots != nil || tb.free != nil {
		t.Fatalf("an emptied table keeps %d slots and %d free entries", cap(tb.slots), cap(tb.free))
	}
	if got := tb.Lookup([]syscall.EpollEvent{toks[0].Event(syscall.EPOLLIN)}, nil); len(got) != 0 {
		t.Fatalf("an event of a member of the dropped table found %+v", got)
	}
}
