// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package profiling captures CPU and allocation profiles of a chathub child process during a
// benchmark scenario, through the loopback pprof listener the process opens when
// CHATHUB_PPROF_LISTEN is set (internal/pprofserver), and summarises them with
// `go tool pprof -top`.
package profiling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Capture is a pair of profiles being fetched: CPU time and allocations over one period.
type Capture struct {
	// CPU and Allocs are the files the profiles are written to.
	CPU, Allocs string
	done        chan error
}

// Start begins fetching a CPU profile and an allocation profile (the allocations made
// during the period, not since the start) of d from the pprof listener at addr (host:port),
// written to dir/<name>-cpu.pprof and dir/<name>-allocs.pprof. Wait returns when both are
// written.
func Start(ctx context.Context, addr, dir, name string, d time.Duration) *Capture {
	secs := max(1, int(d.Round(time.Second)/time.Second))
	c := &Capture{
		CPU:    filepath.Join(dir, name+"-cpu.pprof"),
		Allocs: filepath.Join(dir, name+"-allocs.pprof"),
		done:   make(chan error, 2),
	}
	base := "http://" + addr + "/debug/pprof/"
	go func() { c.done <- fetch(ctx, fmt.Sprintf("%sprofile?seconds=%d", base, secs), c.CPU, d) }()
	go func() { c.done <- fetch(ctx, fmt.Sprintf("%sallocs?seconds=%d", base, secs), c.Allocs, d) }()
	return c
}

// Wait returns when both profiles are written (or failed), with the first error.
func (c *Capture) Wait() error {
	return errors.Join(<-c.done, <-c.done)
}

// Fetch writes the profile served at u (an instant one, such as the heap's) to file.
func Fetch(ctx context.Context, u, file string) error { return fetch(ctx, u, file, 0) }

func fetch(ctx context.Context, u, file string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("fetching the profile: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(file) //nolint:gosec // G304: a file in the directory the benchmark's user gave
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close() // the copy error is the one to report
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return f.Close()
}

// Top runs `go tool pprof -top` on file (with extra flags such as -sample_index=alloc_space)
// and returns its head: the summary lines and the first n entries.
func Top(file string, n int, flags ...string) (string, error) {
	args := append(append([]string{"tool", "pprof", "-top"}, flags...), file)
	out, err := exec.Command("go", args...).CombinedOutput() //nolint:gosec // G204: go tool pprof on the benchmark's own file
	if err != nil {
		return "", fmt.Errorf("go tool pprof -top %s: %w: %s", file, err, strings.TrimSpace(string(out)))
	}
	return Head(string(out), n), nil
}

// Head returns the lines of pprof -top output up to and including its column header
// ("flat  flat%  sum% ...") and the n entries after it. Output without a column header is
// returned whole.
func Head(top string, n int) string {
	lines := strings.Split(strings.TrimRight(top, "\n"), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "flat" && f[1] == "flat%" {
			end := min(len(lines), i+1+max(0, n))
			return strings.Join(lines[:end], "\n") + "\n"
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// EnvFor returns the environment entry that makes a chathub process serve its profiles on
// addr (see internal/pprofserver).
func EnvFor(addr string) string { return "CHATHUB_PPROF_LISTEN=" + addr }
