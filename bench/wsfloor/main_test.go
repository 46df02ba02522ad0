// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"testing"
)

func TestAcceptKeyMatchesTheRFCExample(t *testing.T) {
	// RFC 6455 §1.3.
	if got, want := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("acceptKey = %q; want %q", got, want)
	}
}

func TestTextFrameHeaders(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		header []byte
	}{
		{"a short payload has a 7-bit length", 100, []byte{0x81, 100}},
		{"125 bytes still fit the 7-bit length", 125, []byte{0x81, 125}},
		{"126 bytes take a 16-bit length", 126, []byte{0x81, 126, 0, 126}},
		{"64 KiB take a 64-bit length", 1 << 16, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bytes.Repeat([]byte("x"), tt.size)
			f := textFrame(p)
			if !bytes.HasPrefix(f, tt.header) || !bytes.Equal(f[len(tt.header):], p) {
				t.Fatalf("textFrame(%d bytes) starts % x; want header % x and the payload", tt.size, f[:min(len(f), 12)], tt.header)
			}
		})
	}
}
