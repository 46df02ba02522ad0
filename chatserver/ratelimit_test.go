// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A user over the limit gets the refusal alone; everyone else, the sender
// included, still receives the messages that were allowed.
func TestMessagesOverTheUserRateAreRefusedToTheSenderOnly(t *testing.T) {
	t.Parallel()
	const burst, extra = 5, 3
	st := startStackWith(t, func(cfg *Config) {
		// No refill during the test: exactly burst messages pass.
		cfg.UserMessageRate = 0.0001
		cfg.UserMessageBurst = burst
	})
	alice := join(t, st.chat.URL, "alice")
	alice.expectNotice("alice joined")
	bob := join(t, st.chat.URL, "bob")
	alice.expectNotice("bob joined")
	bob.expectNotice("bob joined")

	for i := range burst + extra {
		alice.send(fmt.Sprintf("message %d", i))
	}
	var allowed []string
	refused := 0
	for range burst + extra {
		d := alice.next()
		switch {
		case d["from"] == "alice":
			allowed = append(allowed, fmt.Sprint(d["message"]))
		case d["type"] == "error" && d["code"] == "rateLimited":
			if msg := fmt.Sprint(d["message"]); !strings.Contains(msg, "too fast") {
				t.Errorf("the refusal says %q", msg)
			}
			refused++
		default:
			t.Fatalf("alice got %v, want her messages or a rateLimited refusal", d)
		}
	}
	if len(allowed) != burst || refused != extra {
		t.Fatalf("alice got %d of her messages and %d refusals, want %d and %d", len(allowed), refused, burst, extra)
	}
	// bob is not limited by alice's sending, sees exactly the allowed
	// messages and no refusal.
	bob.send("marker")
	for _, want := range allowed {
		bob.expectChat("alice", want)
	}
	bob.expectChat("bob", "marker")
	alice.expectChat("bob", "marker")
	// alice is still refused: her bucket is empty.
	alice.send("one more")
	if d := alice.next(); d["code"] != "rateLimited" {
		t.Fatalf("alice got %v, want a rateLimited refusal", d)
	}
}

func TestUserLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newUserLimiter(2, 3)
	for i := range 3 {
		if !l.allow("alice", t0) {
			t.Fatalf("message %d of the burst was refused", i)
		}
	}
	if l.allow("alice", t0) {
		t.Fatal("the message after the burst was allowed")
	}
	if !l.allow("bob", t0) {
		t.Fatal("bob was refused because of alice")
	}
	if !l.allow("alice", t0.Add(500*time.Millisecond)) {
		t.Fatal("after 0.5s at 2/s one message must be allowed")
	}
	if l.allow("alice", t0.Add(500*time.Millisecond)) {
		t.Fatal("a second message within the same 0.5s was allowed")
	}
	// When the map grows past minSweepSize, users whose buckets are full
	// again are forgotten.
	for i := range minSweepSize {
		l.allow(fmt.Sprintf("user%d", i), t0.Add(time.Hour))
	}
	if n := len(l.buckets); n > minSweepSize {
		t.Fatalf("%d buckets: the sweep did not forget alice and bob", n)
	}
	l.sweep(t0.Add(2 * time.Hour))
	if n := len(l.buckets); n != 0 {
		t.Fatalf("%d buckets after a sweep an hour later, want 0", n)
	}
	unlimited := newUserLimiter(0, 1)
	for i := range 100 {
		if !unlimited.allow("x", t0) {
			t.Fatalf("rate 0 refused message %d", i)
		}
	}
}
