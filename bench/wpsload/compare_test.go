// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMakePayloadIsJSONOfTheSizeWithTheSendTime(t *testing.T) {
	for _, size := range []int{32, 100, 1000} {
		p := makePayload(size, 1764500000123456789)
		if len(p) != size {
			t.Errorf("makePayload(%d) has %d bytes", size, len(p))
		}
		var v struct {
			T int64  `json:"t"`
			P string `json:"p"`
		}
		if err := json.Unmarshal(p, &v); err != nil || v.T != 1764500000123456789 {
			t.Errorf("makePayload(%d) = %s: %v, t=%d", size, p, err, v.T)
		}
	}
}

// countStamps returns how many messages stamps finds in p, checking that it recorded as
// many latencies.
func countStamps(t *testing.T, p string) int {
	t.Helper()
	r := newRecorder(10)
	n := stamps([]byte(p), r)
	if got := int(r.n.Load()); got != n {
		t.Fatalf("stamps(%q) = %d but recorded %d", p, n, got)
	}
	return n
}

func TestStampsCountsEveryFormat(t *testing.T) {
	sent := time.Now().UnixNano()
	payload := string(makePayload(100, sent))
	tests := []struct {
		name    string
		payload string
		want    int
	}{
		{"a PubSub scenario payload", "1700000000123456789|xxxx", 1},
		{"the comparison's payload (PubSub service, wsfloor)", payload, 1},
		{"one Centrifugo push", `{"push":{"channel":"bench","pub":{"data":` + payload + `}}}`, 1},
		{"two batched Centrifugo pushes", `{"push":{"channel":"bench","pub":{"data":` + payload + `}}}` + "\n" +
			`{"push":{"channel":"bench","pub":{"data":` + payload + `}}}`, 2},
		{"a Centrifugo reply", `{"id":2,"subscribe":{}}`, 0},
		{"a key without digits", `{"t":"x"}`, 0},
		{"a ping", `{}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := countStamps(t, tt.payload); got != tt.want {
				t.Errorf("stamps(%q) = %d; want %d", tt.payload, got, tt.want)
			}
		})
	}
}

func TestStampsRecordsTheSendTime(t *testing.T) {
	r := newRecorder(1)
	sent := time.Now().Add(-time.Second).UnixNano()
	stamps(makePayload(100, sent), r)
	if lat := time.Duration(r.samples[0]); lat < time.Second || lat > time.Minute {
		t.Errorf("recorded latency %v; want about 1s", lat)
	}
}

func TestIsCentrifugoPing(t *testing.T) {
	for p, want := range map[string]bool{
		"{}":                   true,
		`{"id":1}` + "\n{}":    true,
		"{}\n" + `{"push":{}}`: true,
		`{"push":{}}`:          false,
		"":                     false,
		"{} ":                  false,
	} {
		if got := isCentrifugoPing([]byte(p)); got != want {
			t.Errorf("isCentrifugoPing(%q) = %v; want %v", p, got, want)
		}
	}
}

func TestNextFrameSplitsFramesOfEveryLengthEncoding(t *testing.T) {
	var stream []byte
	sizes := []int{0, 125, 126, 70000}
	for _, n := range sizes {
		f := maskedFrame(0x81, bytes.Repeat([]byte("y"), n))
		// Server frames are unmasked: drop the mask bit and the (all-zero) mask.
		hdr := len(f) - n - 4
		unmasked := append(append([]byte{f[0], f[1] &^ 0x80}, f[2:hdr]...), f[hdr+4:]...)
		stream = append(stream, unmasked...)
	}
	for _, n := range sizes {
		if _, _, _, ok := nextFrame(stream[:len(stream)-1]); !ok && n == 0 {
			t.Fatal("an empty frame at the start was reported incomplete")
		}
		op, payload, rest, ok := nextFrame(stream)
		if !ok || op != 0x1 || len(payload) != n {
			t.Fatalf("nextFrame: op %x, %d bytes, ok %v; want a text frame of %d bytes", op, len(payload), ok, n)
		}
		stream = rest
	}
	if len(stream) != 0 {
		t.Fatalf("%d bytes left over", len(stream))
	}
	if _, _, rest, ok := nextFrame([]byte{0x81, 126, 0}); ok || len(rest) != 3 {
		t.Error("a frame with a partial length was not kept for later")
	}
}

func TestCentrifugoReplyFindsTheIDAmongBatchedReplies(t *testing.T) {
	payload := []byte(`{"id":1,"connect":{"client":"c"}}` + "\n" + `{"id":2,"subscribe":{}}`)
	if r, ok := centrifugoReply(payload, 2); !ok || string(r) != `{"id":2,"subscribe":{}}` {
		t.Errorf("centrifugoReply(…, 2) = %s, %v", r, ok)
	}
	if _, ok := centrifugoReply(payload, 3); ok {
		t.Error("centrifugoReply found an id that is not there")
	}
}

func TestParseRSS(t *testing.T) {
	got, err := parseRSS("Name:\tchathub\nVmPeak:\t 9000 kB\nVmRSS:\t   12345 kB\nThreads: 4\n")
	if err != nil || got != 12345<<10 {
		t.Errorf("parseRSS = %d, %v; want %d", got, err, 12345<<10)
	}
	for _, bad := range []string{"Name: x\n", "VmRSS: lots kB\n", "VmRSS: 12 MB\n"} {
		if _, err := parseRSS(bad); err == nil {
			t.Errorf("parseRSS(%q) gave no error", bad)
		}
	}
}

func TestParseStatusKBReadsTheNamedField(t *testing.T) {
	status := "VmRSS:\t   12345 kB\nRssAnon:\t    2000 kB\nRssFile:\t   10345 kB\n"
	got, err := parseStatusKB(status, "RssAnon")
	if err != nil || got != 2000<<10 {
		t.Errorf("parseStatusKB(RssAnon) = %d, %v; want %d", got, err, 2000<<10)
	}
	if _, err := parseStatusKB(status, "RssShmem"); err == nil || !strings.Contains(err.Error(), "RssShmem") {
		t.Errorf("a missing field gave %v, want an error naming it", err)
	}
}

func TestMedianOf(t *testing.T) {
	in := []float64{3, 1, 2}
	if got := medianOf(in); got != 2 {
		t.Errorf("medianOf(3,1,2) = %v", got)
	}
	if !slices.Equal(in, []float64{3, 1, 2}) {
		t.Error("medianOf sorted its argument")
	}
	if got := medianOf([]float64{4, 1, 3, 2}); got != 3 {
		t.Errorf("medianOf of four values = %v; want the upper middle one, 3", got)
	}
	if got := medianOf(nil); got != 0 {
		t.Errorf("medianOf(nil) = %v", got)
	}
}
