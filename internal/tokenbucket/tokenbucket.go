// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package tokenbucket is the token bucket both rate limits use: the PubSub service's per
// connection (one bucket on the socket's reader goroutine) and the chat server's per user
// (a map of buckets under a lock). A Bucket is a value of 32 bytes with no lock of its own,
// so a connection pays nothing more for its limit.
package tokenbucket

import "time"

// Bucket holds tokens that refill at a rate up to a burst. The rate and burst are the
// caller's, passed to each call, so one pair serves many buckets. The zero Bucket is empty;
// New returns a full one.
type Bucket struct {
	tokens float64
	last   time.Time
}

// New returns a bucket holding burst tokens at now.
func New(burst float64, now time.Time) Bucket { return Bucket{tokens: burst, last: now} }

// refill adds the tokens earned since the last call, up to burst.
func (b *Bucket) refill(rate, burst float64, now time.Time) {
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(burst, b.tokens+elapsed*rate)
		b.last = now
	}
}

// Take refills the bucket at rate tokens per second up to burst, then takes one token if
// there is one and reports whether there was.
func (b *Bucket) Take(rate, burst float64, now time.Time) bool {
	b.refill(rate, burst, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Full refills the bucket and reports whether it holds burst tokens again (a new bucket
// would be the same, so a caller may forget it).
func (b *Bucket) Full(rate, burst float64, now time.Time) bool {
	b.refill(rate, burst, now)
	return b.tokens >= burst
}
