// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import "net"

// WebSocket opcodes and the largest header of an unmasked server frame (RFC 6455 §5.2).
const (
	opText         = 0x1
	opBinary       = 0x2
	opPing         = 0x9
	maxFrameHeader = 10
)

// appendFrameHeader appends the header of a final, unmasked frame.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	// Each length byte is masked to the 8 bits it carries; the compiler drops the masks.
	switch {
	case n < 126:
		return append(b, byte(n&0xff))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8&0xff), byte(n&0xff))
	}
	return append(b, 127, byte(n>>56&0xff), byte(n>>48&0xff), byte(n>>40&0xff), byte(n>>32&0xff),
		byte(n>>24&0xff), byte(n>>16&0xff), byte(n>>8&0xff), byte(n&0xff))
}

// writeScratch is a pool worker's reusable space for frame headers and buffer lists, so a
// write allocates nothing.
type writeScratch struct {
	hdrs  []byte
	bufs  net.Buffers
	isHdr []bool // whether bufs[i] is a frame header (in hdrs) rather than a shared payload

	rawScratch // the system's vectored-write state (see writeRaw)
}

// reset empties the scratch space for a batch of n frames; hdrs gets room for every header
// up front, so the sub-slices taken from it stay valid.
func (w *writeScratch) reset(n int) {
	if cap(w.hdrs) < maxFrameHeader*n {
		w.hdrs = make([]byte, 0, maxFrameHeader*n)
	}
	w.hdrs, w.bufs, w.isHdr = w.hdrs[:0], w.bufs[:0], w.isHdr[:0]
}

// rest returns what remains of bufs after the first written bytes, with the frame headers
// copied out of the scratch space (payloads are shared and never modified).
func (w *writeScratch) rest(written int) net.Buffers {
	var out net.Buffers
	for i, b := range w.bufs {
		if written >= len(b) {
			written -= len(b)
			continue
		}
		b = b[written:]
		written = 0
		if w.isHdr[i] {
			b = append([]byte(nil), b...)
		}
		out = append(out, b)
	}
	return out
}
