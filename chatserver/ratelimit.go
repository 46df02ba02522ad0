// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"sync"
	"time"

	"github.com/chathub/chathub/internal/tokenbucket"
)

// userLimiter is a token bucket per user id: each user may send burst
// messages at once and rate messages per second after that. It is local to
// one chat server process: with several replicas a user's messages are
// spread over them and each replica counts only its own.
type userLimiter struct {
	rate  float64 // tokens per second; 0 means no limit
	burst float64

	mu        sync.Mutex
	buckets   map[string]*tokenbucket.Bucket
	sweepSize int // the map is swept of full buckets when it grows past this
}

// minSweepSize is the map size below which full buckets are kept.
const minSweepSize = 1024

func newUserLimiter(rate float64, burst int) *userLimiter {
	return &userLimiter{rate: rate, burst: float64(burst), buckets: map[string]*tokenbucket.Bucket{}, sweepSize: minSweepSize}
}

// allow takes one token from user's bucket at now and reports whether there
// was one.
func (l *userLimiter) allow(user string, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[user]
	if !ok {
		if len(l.buckets) >= l.sweepSize {
			l.sweep(now)
		}
		nb := tokenbucket.New(l.burst, now)
		b = &nb
		l.buckets[user] = b
	}
	return b.Take(l.rate, l.burst, now)
}

// sweep forgets the users whose buckets are full again (a new bucket starts
// full, so forgetting them changes nothing) and sets the next sweep size.
func (l *userLimiter) sweep(now time.Time) {
	for user, b := range l.buckets {
		if b.Full(l.rate, l.burst, now) {
			delete(l.buckets, user)
		}
	}
	l.sweepSize = max(minSweepSize, 2*len(l.buckets))
}
