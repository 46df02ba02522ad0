// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package profiling

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/pprofserver"
)

const sampleTop = `File: chathub
Type: cpu
Duration: 10s, Total samples = 3.50s (35.00%)
Showing nodes accounting for 3.20s, 91.43% of 3.50s total
      flat  flat%   sum%        cum   cum%
     2.10s 60.00% 60.00%      2.10s 60.00%  internal/runtime/syscall.Syscall6
     0.50s 14.29% 74.29%      0.50s 14.29%  runtime.futex
     0.30s  8.57% 82.86%      0.30s  8.57%  runtime.memmove
     0.30s  8.57% 91.43%      0.30s  8.57%  runtime.nanotime
`

func TestHeadKeepsTheSummaryAndTheFirstEntries(t *testing.T) {
	got := Head(sampleTop, 2)
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if len(lines) != 7 {
		t.Fatalf("Head(…, 2) has %d lines; want the 4 summary lines, the column header and 2 entries:\n%s", len(lines), got)
	}
	if !strings.Contains(lines[5], "Syscall6") || !strings.Contains(lines[6], "runtime.futex") || strings.Contains(got, "memmove") {
		t.Errorf("Head(…, 2) does not end with the first two entries:\n%s", got)
	}
}

func TestHeadWithMoreEntriesThanThereAre(t *testing.T) {
	if got := Head(sampleTop, 50); got != sampleTop {
		t.Errorf("Head(…, 50) = %q; want the whole output", got)
	}
}

func TestHeadWithoutAColumnHeaderReturnsEverything(t *testing.T) {
	in := "go tool pprof: no samples\n"
	if got := Head(in, 3); got != in {
		t.Errorf("Head(%q) = %q", in, got)
	}
}

func TestCaptureWritesBothProfiles(t *testing.T) {
	srv := httptest.NewServer(pprofserver.Handler())
	defer srv.Close()
	dir := t.TempDir()
	c := Start(t.Context(), strings.TrimPrefix(srv.URL, "http://"), dir, "svc", time.Second)
	if err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{c.CPU, c.Allocs} {
		st, err := os.Stat(f)
		if err != nil || st.Size() == 0 {
			t.Errorf("%s: %v, %v; want a non-empty profile", f, st, err)
		}
	}
	top, err := Top(c.Allocs, 5, "-sample_index=alloc_space")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(top, "flat%") {
		t.Errorf("Top of the allocation profile has no column header:\n%s", top)
	}
}

func TestCaptureReportsAnHTTPError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c := Start(t.Context(), strings.TrimPrefix(srv.URL, "http://"), t.TempDir(), "svc", time.Second)
	if err := c.Wait(); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Wait = %v; want the HTTP 404", err)
	}
}
