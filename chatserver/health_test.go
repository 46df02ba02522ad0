// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"testing"
	"time"
)

func TestReadinessIsNotPoisonedByAProbeThatGaveUp(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	checks := 0
	r := &readiness{ttl: time.Minute, now: func() time.Time { return now }, check: func(ctx context.Context) error {
		checks++
		return ctx.Err() // a healthy service: only a cancelled context fails
	}}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.status(gone); err != nil {
		t.Fatalf("status for a probe that gave up = %v, want the service's own answer (healthy)", err)
	}
	if err := r.status(context.Background()); err != nil {
		t.Fatalf("status after a probe gave up = %v, want healthy", err)
	}
	if checks != 1 {
		t.Fatalf("the service was checked %d times within the cache TTL, want 1", checks)
	}
}
