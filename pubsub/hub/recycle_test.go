// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package hub

import (
	"testing"

	"github.com/chathub/chathub/pubsub/protocol"
)

func TestRecycledBatchesAreReusedOnlyWhenSmall(t *testing.T) {
	tests := []struct {
		name      string
		frames    int
		wantReuse bool
	}{
		{"a small batch becomes the next queue", 3, true},
		{"a batch over the limit is left to the garbage collector", maxRecycledFrames + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewRegistry(Config{}).Hub("chat")
			c, tr := register(t, h, "c1", "", protocol.KindRaw)
			for i := range tt.frames {
				if err := c.Send(text("m")); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			batch := c.Drain(tr)
			if len(batch) != tt.frames {
				t.Fatalf("drained %d frames, want %d", len(batch), tt.frames)
			}
			first := &batch[:1][0]
			c.Recycle(batch)
			for i, f := range batch[:cap(batch)] {
				if tt.wantReuse && f.msg != nil {
					t.Fatalf("recycled frame %d still holds its message", i)
				}
			}
			if err := c.Send(text("next")); err != nil {
				t.Fatal(err)
			}
			next := c.Drain(tr)
			if len(next) != 1 {
				t.Fatalf("drained %d frames, want 1", len(next))
			}
			if data, _ := next[0].Payload(protocol.KindRaw); string(data) != "next" {
				t.Fatalf("drained %q, want %q", data, "next")
			}
			if reused := &next[0] == first; reused != tt.wantReuse {
				t.Fatalf("batch reused = %v, want %v", reused, tt.wantReuse)
			}
		})
	}
}

func TestRecycleAfterANewQueueKeepsTheQueue(t *testing.T) {
	h := NewRegistry(Config{}).Hub("chat")
	c, tr := register(t, h, "c1", "", protocol.KindRaw)
	_ = c.Send(text("a"))
	batch := c.Drain(tr)
	_ = c.Send(text("b")) // queued while the batch is being written
	c.Recycle(batch)
	_ = c.Send(text("c"))
	var got []string
	for _, f := range c.Drain(tr) {
		data, _ := f.Payload(protocol.KindRaw)
		got = append(got, string(data))
	}
	if len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("queue after recycling = %q, want [b c]", got)
	}
}
