// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package mapshrink

import (
	"runtime"
	"testing"
)

func TestShrinkKeepsEntriesAndPeak(t *testing.T) {
	m := map[int]int{}
	peak := 0
	for i := range 1000 {
		m[i] = i * 2
		Grown(len(m), &peak)
	}
	if peak != 1000 {
		t.Fatalf("peak = %d, want 1000", peak)
	}
	for i := range 1000 {
		if i%10 == 0 {
			continue
		}
		delete(m, i)
		if got := Shrink(m, &peak); len(m) > 250 && peak != 1000 {
			t.Fatalf("rebuilt at %d entries, want not before a quarter of the peak", len(got))
		} else {
			m = got
		}
	}
	if peak != 250 { // rebuilt when it fell to a quarter of 1000, then too small to rebuild
		t.Errorf("peak = %d, want 250", peak)
	}
	if len(m) != 100 {
		t.Fatalf("%d entries, want 100", len(m))
	}
	for i := 0; i < 1000; i += 10 {
		if m[i] != i*2 {
			t.Fatalf("m[%d] = %d, want %d", i, m[i], i*2)
		}
	}
}

func TestShrinkSmallMapUntouched(t *testing.T) {
	m := map[string]int{"a": 1}
	peak := MinPeak - 1
	if got := Shrink(m, &peak); peak != MinPeak-1 || len(got) != 1 {
		t.Errorf("a map below MinPeak was rebuilt (peak %d)", peak)
	}
}

// TestShrinkGivesBackMemory checks what the package is for: a map emptied down to a few
// entries holds far less heap once shrunk than the runtime's map would.
func TestShrinkGivesBackMemory(t *testing.T) {
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc) //nolint:gosec // G115: a heap fits int64
	}
	build := func() map[int64]*int {
		m := map[int64]*int{}
		for i := range int64(100_000) {
			m[i] = nil
		}
		for i := range int64(100_000 - 10) {
			delete(m, i)
		}
		return m
	}
	before := heap()
	kept := build()
	unshrunk := heap() - before
	peak := 100_000
	kept = Shrink(kept, &peak)
	shrunk := heap() - before
	if len(kept) != 10 || shrunk*10 > unshrunk {
		t.Errorf("shrunk map holds %d bytes, the map as the runtime left it %d: want a tenth or less", shrunk, unshrunk)
	}
	runtime.KeepAlive(kept)
}
