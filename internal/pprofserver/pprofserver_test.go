// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pprofserver

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:6060", true},
		{"127.0.0.2:0", true},
		{"[::1]:6060", true},
		{":6060", false},
		{"0.0.0.0:6060", false},
		{"10.1.2.3:6060", false},
		{"localhost:6060", false},
		{"127.0.0.1", false},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v; want ok=%v", tt.addr, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), EnvListen) {
			t.Errorf("CheckLoopback(%q) error %q does not name %s", tt.addr, err, EnvListen)
		}
	}
}

func TestStartFromEnvIsOffByDefault(t *testing.T) {
	addr, err := StartFromEnv(t.Context(), func(string) string { return "" })
	if addr != nil || err != nil {
		t.Fatalf("StartFromEnv without %s = %v, %v; want no listener", EnvListen, addr, err)
	}
}

func TestStartRefusesANonLoopbackAddress(t *testing.T) {
	if _, err := StartFromEnv(t.Context(), func(string) string { return "0.0.0.0:0" }); err == nil {
		t.Fatal("a profiling listener on 0.0.0.0 was started")
	}
}

func TestStartServesProfilesUntilTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addr, err := StartFromEnv(ctx, func(k string) string {
		if k == EnvListen {
			return "127.0.0.1:0"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + addr.String() + "/debug/pprof/allocs?debug=1"
	get := func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return http.DefaultClient.Do(req)
	}
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "heap profile") {
		t.Fatalf("GET allocs: HTTP %d, %.80q", resp.StatusCode, b)
	}
	cancel()
	for range 100 {
		resp, err := get()
		if err != nil {
			return // closed
		}
		resp.Body.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the profiling listener still answers after its context ended")
}
