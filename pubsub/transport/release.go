// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"runtime/debug"
	"sync"
	"time"
)

// Giving the memory of closed sockets back to the system. When many clients leave at once
// (a load test ends, a front end restarts), their sockets' memory is garbage, but an idle
// service allocates too little to start a collection soon, and the runtime returns free pages
// to the system slowly: measured, 10,000 closed sockets left the RSS at 2.2× its size before
// they opened a minute later. So when the number of sockets has fallen to at most half of its
// peak, and by at least releaseMin, the Transport runs a full collection that returns the
// free pages (debug.FreeOSMemory) a moment later, when the wave of closes is over, and once
// more a few seconds after that, when the work the closes caused (the hub's bookkeeping, the
// disconnected events to deliver) is done: without the second one, its garbage stayed until
// the runtime's periodic collection two minutes later. The second one comes releaseAgain after
// the last close of the wave (at most releaseAgainMax after the first), since a wave of
// thousands of closes can take seconds to work through (its readers are bounded, see
// maxReaders): timed from the first release, it sometimes came before the wave ended and left
// the garbage of its tail. Each release starts a new peak, so a service whose sockets go down
// in waves releases once per halving, and one whose clients come and go releases never.

const (
	releaseMin      = 1000             // sockets that must have closed since the peak
	releaseDelay    = time.Second      // from the close that crossed the line to the release
	releaseAgain    = 10 * time.Second // from the last close of the wave to the second one
	releaseAgainMax = time.Minute      // from the release to the second one, at most
)

// releaser tracks the number of sockets and releases memory when it falls far enough.
type releaser struct {
	mu       sync.Mutex
	peak     int64
	pending  bool
	final    *time.Timer   // the second release, while a wave is being worked through
	finalMax time.Time     // when the second release may be put off no longer
	delay    time.Duration // releaseDelay
	again    time.Duration // releaseAgain
	againMax time.Duration // releaseAgainMax
	release  func()        // debug.FreeOSMemory; tests count calls instead
	current  func() int64  // the number of sockets now
}

func newReleaser(current func() int64) *releaser {
	return &releaser{delay: releaseDelay, again: releaseAgain, againMax: releaseAgainMax, release: debug.FreeOSMemory, current: current}
}

// opened notes that the number of sockets rose to n.
func (r *releaser) opened(n int64) {
	r.mu.Lock()
	r.peak = max(r.peak, n)
	r.mu.Unlock()
}

// closed notes that the number of sockets fell to n, and schedules a release when it fell to
// at most half of the peak and by at least releaseMin.
func (r *releaser) closed(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final != nil && time.Now().Before(r.finalMax) {
		r.final.Reset(r.again) // the wave goes on: its second release waits for its end
	}
	if r.pending || r.peak-n < releaseMin || n > r.peak/2 {
		return
	}
	r.pending = true
	time.AfterFunc(r.delay, r.run)
}

// run releases the memory, starts a new peak at the current number of sockets and schedules
// the second release.
func (r *releaser) run() {
	r.release()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending, r.peak = false, r.current()
	if r.final == nil {
		r.finalMax = time.Now().Add(r.againMax)
		r.final = time.AfterFunc(r.again, r.finish)
	}
}

// finish is the second release of a wave.
func (r *releaser) finish() {
	r.mu.Lock()
	r.final = nil
	r.mu.Unlock()
	r.release()
}
