// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testReleaser is a releaser over a socket count the test sets, counting its releases.
func testReleaser() (*releaser, *atomic.Int64, *atomic.Int64) {
	var n, releases atomic.Int64
	r := newReleaser(n.Load)
	r.delay, r.again, r.againMax = 10*time.Millisecond, 20*time.Millisecond, time.Minute
	r.release = func() { releases.Add(1) }
	return r, &n, &releases
}

// move changes the socket count to to, one socket at a time, as sockets open and close.
func move(r *releaser, n *atomic.Int64, to int64) {
	for n.Load() < to {
		r.opened(n.Add(1))
	}
	for n.Load() > to {
		r.closed(n.Add(-1))
	}
}

func TestReleaserReleasesTwiceWhenHalfTheSocketsClosed(t *testing.T) {
	t.Parallel()
	r, n, releases := testReleaser()
	move(r, n, 3000)
	move(r, n, 1600) // 1,400 closed, but more than half remain
	time.Sleep(50 * time.Millisecond)
	if got := releases.Load(); got != 0 {
		t.Fatalf("%d releases with more than half of the sockets open, want 0", got)
	}
	move(r, n, 0)
	waitFor(t, "the release and the second one", func() bool { return releases.Load() == 2 })
	time.Sleep(50 * time.Millisecond)
	if got := releases.Load(); got != 2 {
		t.Errorf("%d releases after one wave of closes, want 2", got)
	}
}

func TestReleaserIgnoresFewClosesAndStartsANewPeak(t *testing.T) {
	t.Parallel()
	r, n, releases := testReleaser()
	move(r, n, 900)
	move(r, n, 0) // all of them, but fewer than releaseMin
	time.Sleep(50 * time.Millisecond)
	if got := releases.Load(); got != 0 {
		t.Fatalf("%d releases after %d closes, want 0", got, 900)
	}

	move(r, n, 4000)
	move(r, n, 1500)
	waitFor(t, "the releases", func() bool { return releases.Load() == 2 })
	// The peak is now 1,500: 1,000 more closes are not half of it... until they are.
	move(r, n, 800)
	time.Sleep(50 * time.Millisecond)
	if got := releases.Load(); got != 2 {
		t.Fatalf("%d releases after 700 more closes, want still 2", got)
	}
	move(r, n, 400) // 1,100 below the new peak, and under half of it
	waitFor(t, "the releases of the second wave", func() bool { return releases.Load() == 4 })
}

func TestReleaserReleasesAgainAfterTheLastCloseOfASlowWave(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	var mu sync.Mutex
	var releases []time.Time
	r := newReleaser(n.Load)
	r.delay, r.again, r.againMax = 10*time.Millisecond, 1500*time.Millisecond, time.Minute
	r.release = func() {
		mu.Lock()
		releases = append(releases, time.Now())
		mu.Unlock()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(releases)
	}
	move(r, &n, 3000)
	move(r, &n, 1400) // past half: the first release
	waitFor(t, "the first release", func() bool { return count() == 1 })
	// The wave goes on, slowly, for longer than `again` after the first release (to 500: fewer than
	// releaseMin below the new peak, so no new wave starts).
	var lastClose time.Time
	for n.Load() > 500 {
		move(r, &n, max(500, n.Load()-25))
		lastClose = time.Now()
		time.Sleep(60 * time.Millisecond)
	}
	waitFor(t, "the second release", func() bool { return count() == 2 })
	mu.Lock()
	second := releases[1]
	mu.Unlock()
	if second.Before(lastClose) {
		t.Fatalf("the second release came %v before the last close of the wave, want it after", lastClose.Sub(second))
	}
}
