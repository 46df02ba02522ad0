// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package mapshrink gives back the memory of maps that were large once. A Go map never
// shrinks: a map that held an entry per connection while 10,000 clients were connected keeps
// the room for 10,000 after they left, and the PubSub service has several such maps (the hub's
// indexes, the upstream queues, the connection guard). Their room, long-lived and allocated
// while the connections opened, was a part of the memory that stayed after the connections
// closed. The owner of such a map keeps a peak count beside it, calls Grown after inserting
// and Shrink after deleting.
package mapshrink

// MinPeak is the smallest peak worth rebuilding a map for: smaller maps cost too little.
const MinPeak = 64

// Grown records the map's size n after an insertion in *peak.
func Grown(n int, peak *int) {
	if n > *peak {
		*peak = n
	}
}

// Shrink returns m, or a copy of m sized for its entries when it holds at most a quarter of
// its peak and the peak was at least MinPeak; the copy's size becomes the new peak. Shrinking
// at a quarter of the peak costs each entry at most a third of a copy, amortized.
func Shrink[M ~map[K]V, K comparable, V any](m M, peak *int) M {
	n := len(m)
	if *peak < MinPeak || n > *peak/4 {
		return m
	}
	out := make(M, n)
	for k, v := range m {
		out[k] = v
	}
	*peak = n
	return out
}
