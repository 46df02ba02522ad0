// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"bytes"
	"testing"
)

func TestScratchRestCopiesHeadersAndSharesPayloads(t *testing.T) {
	var w writeScratch
	w.reset(2)
	payload := []byte("payload")
	w.hdrs = appendFrameHeader(w.hdrs, opText, len(payload))
	w.bufs = append(w.bufs, w.hdrs[:2], payload)
	w.isHdr = append(w.isHdr, true, false)
	w.hdrs = appendFrameHeader(w.hdrs, opPing, 0)
	w.bufs = append(w.bufs, w.hdrs[2:4])
	w.isHdr = append(w.isHdr, true)

	rest := w.rest(3) // the first header and one payload byte are written
	want := [][]byte{[]byte("ayload"), {0x80 | opPing, 0}}
	if len(rest) != len(want) || !bytes.Equal(rest[0], want[0]) || !bytes.Equal(rest[1], want[1]) {
		t.Fatalf("rest(3) = %q, want %q", rest, want)
	}
	if &rest[0][0] != &payload[1] {
		t.Error("the payload was copied, want it shared")
	}
	w.hdrs[2] = 0 // the scratch space is reused by the next batch
	if rest[1][0] != 0x80|opPing {
		t.Error("the header still points into the scratch space")
	}
}
