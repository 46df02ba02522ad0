// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux || darwin || freebsd

package transport

import (
	"fmt"
	"syscall"
	"testing"
	"unsafe"
)

func TestAdvanceDropsWrittenBytes(t *testing.T) {
	tests := []struct {
		name    string
		written int
		want    []string
	}{
		{"nothing written leaves every buffer", 0, []string{"abc", "de", "fghi"}},
		{"part of the first buffer is cut from its front", 2, []string{"c", "de", "fghi"}},
		{"exactly the first buffer drops it", 3, []string{"de", "fghi"}},
		{"a write across buffers cuts into the third", 6, []string{"ghi"}},
		{"everything written leaves nothing", 9, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bufs := [][]byte{[]byte("abc"), []byte("de"), []byte("fghi")}
			iov := make([]syscall.Iovec, len(bufs))
			for i, b := range bufs {
				iov[i].Base = &b[0]
				iov[i].SetLen(len(b))
			}
			var got []string
			for _, v := range advance(iov, tt.written) {
				got = append(got, string(unsafeBytes(v)))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("advance(%d) = %q, want %q", tt.written, got, tt.want)
			}
		})
	}
}

// unsafeBytes returns the bytes an iovec points to.
func unsafeBytes(v syscall.Iovec) []byte {
	return unsafe.Slice(v.Base, v.Len) //nolint:gosec // G103: the test reads back the buffer an iovec points to
}
