// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package main

import (
	"bytes"
	"strconv"
	"testing"
)

func TestLeadingNanos(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    int64
		ok      bool
	}{
		{"a send time before the bar is parsed", "1700000000123456789|xxxx", 1700000000123456789, true},
		{"a payload without a bar has no send time", "1700000000123456789", 0, false},
		{"an empty number has no send time", "|xxxx", 0, false},
		{"a non-digit has no send time", "17a|xxxx", 0, false},
		{"more than 20 digits has no send time", "123456789012345678901|x", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := leadingNanos([]byte(tt.payload))
			if got != tt.want || ok != tt.ok {
				t.Errorf("leadingNanos(%q) = %d, %v; want %d, %v", tt.payload, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// serverFrame is an unmasked frame as the service writes it.
func serverFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n)) //nolint:gosec // G115: keeping the low bytes is the encoding
	default:
		b = append(b, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n)) //nolint:gosec // G115: keeping the low bytes is the encoding
	}
	return append(b, payload...)
}

func TestFramesSplitAcrossReadsAreCountedOnceEach(t *testing.T) {
	f := &fleet{}
	rec := newRecorder(16)
	f.rec.Store(rec)
	l := &poller{owner: f}
	c := &rawConn{fd: -1}
	var stream []byte
	sizes := []int{10, 200, 70000} // one-byte, two-byte and eight-byte lengths
	for _, n := range sizes {
		p := append([]byte(strconv.FormatInt(42, 10)+"|"), bytes.Repeat([]byte("x"), n)...)
		stream = append(stream, serverFrame(0x1, p)...)
	}
	// Feed the stream in uneven pieces, as reads would return it.
	var pending []byte
	for i := 0; i < len(stream); i += 777 {
		buf := append(pending, stream[i:min(i+777, len(stream))]...)
		pending = append([]byte(nil), l.frames(c, buf)...)
	}
	if len(pending) != 0 {
		t.Fatalf("%d bytes left over, want none", len(pending))
	}
	if got := c.got.Load(); got != int64(len(sizes)) {
		t.Fatalf("counted %d frames, want %d", got, len(sizes))
	}
	if got := rec.n.Load(); got != int64(len(sizes)) {
		t.Fatalf("recorded %d latencies, want %d", got, len(sizes))
	}
}
