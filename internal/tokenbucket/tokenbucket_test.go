// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package tokenbucket

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := New(3, t0)
	for i := range 3 {
		if !b.Take(2, 3, t0) {
			t.Fatalf("take %d of a full bucket of 3 was refused", i+1)
		}
	}
	if b.Take(2, 3, t0) {
		t.Fatal("a fourth take at the same instant was allowed")
	}
	if !b.Take(2, 3, t0.Add(500*time.Millisecond)) {
		t.Fatal("half a second at 2/s did not earn a token")
	}
	if b.Full(2, 3, t0.Add(time.Second)) {
		t.Fatal("the bucket is full one second later; it should hold 2 of 3")
	}
	if !b.Full(2, 3, t0.Add(time.Hour)) {
		t.Fatal("the bucket is not full an hour later")
	}
	taken := 0
	for b.Take(2, 3, t0.Add(time.Hour)) {
		taken++
	}
	if taken != 3 {
		t.Fatalf("took %d tokens an hour later, want the burst of 3", taken)
	}
}
