// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

// Command idle measures the idle memory of the two data-plane pods: it
// starts the PubSub service (`<binary> pubsub`) and a chat server
// (`<binary> chatserver`, its connection-string file pointing at that
// service) on 127.0.0.1, waits until both are healthy, lets them idle, and
// prints each process's resident set (VmRSS from /proc, split into
// anonymous memory and pages of the binary's file) and Go heap (from its
// /metrics), the median of several runs. Several binaries can be
// compared in one table (-bin label=path, repeated), and -env adds
// environment variables to both processes (GOMEMLIMIT, GOGC, ...).
// -inittrace instead runs each binary's PubSub service once with
// GODEBUG=inittrace=1 and lists the package initialisers that allocate
// most. Not part of 'make test'; see 'make bench-idle'.
//
//	go build -o bin/chathub . && go run ./bench/idle -bin chathub=bin/chathub
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chathub/chathub/internal/proc"
)

// binary is one binary under test.
type binary struct{ label, path string }

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// config holds the harness flags.
type config struct {
	bins      []binary
	env       []string
	runs      int
	idle      time.Duration
	inittrace int
}

func main() {
	var bins, env listFlag
	var c config
	flag.Var(&bins, "bin", "label=path of a binary to measure (repeatable; default chathub=bin/chathub)")
	flag.Var(&env, "env", "KEY=VALUE added to the environment of the measured processes (repeatable)")
	flag.IntVar(&c.runs, "runs", 3, "runs per binary; the table gives the median")
	flag.DurationVar(&c.idle, "idle", 5*time.Second, "how long the processes idle before they are measured")
	flag.IntVar(&c.inittrace, "inittrace", 0, "instead of measuring, list the N package initialisers of each binary that allocate most")
	flag.Parse()
	if len(bins) == 0 {
		bins = listFlag{"chathub=bin/chathub"}
	}
	for _, b := range bins {
		label, path, ok := strings.Cut(b, "=")
		if !ok {
			label, path = filepath.Base(b), b
		}
		c.bins = append(c.bins, binary{label, path})
	}
	c.env = env
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.runs < 1 || c.idle < 0 || c.idle > time.Minute {
		return errors.New("-runs must be at least 1 and -idle between 0 and 1m")
	}
	if c.inittrace > 0 {
		for _, b := range c.bins {
			if err := printInitTrace(b, c.env, c.inittrace); err != nil {
				return fmt.Errorf("%s: %w", b.label, err)
			}
		}
		return nil
	}
	fmt.Printf("Idle memory, median of %d runs, %s idle each; env %q; load average before: %s\n\n",
		c.runs, c.idle, c.env, loadAverage())
	fmt.Println("| binary | pod | VmRSS MiB | RssAnon MiB | RssFile MiB | Go heap in use MiB | Go sys MiB | runs (VmRSS MiB) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---|")
	for _, b := range c.bins {
		var ps, cs []sample
		for range c.runs {
			p, s, err := measurePair(b.path, c.env, c.idle)
			if err != nil {
				return fmt.Errorf("%s: %w", b.label, err)
			}
			ps, cs = append(ps, p), append(cs, s)
		}
		fmt.Println(row(b.label, "chat server", cs))
		fmt.Println(row(b.label, "PubSub service", ps))
	}
	fmt.Printf("\nLoad average after: %s\n", loadAverage())
	return nil
}

// sample is one process's memory after idling.
type sample struct {
	rss, rssAnon, rssFile float64 // bytes, from /proc; -1 when unknown
	heapInuse, goSys      float64 // bytes, from /metrics; -1 when unknown
}

func row(label, pod string, s []sample) string {
	runs := make([]string, len(s))
	for i, x := range s {
		runs[i] = mib(x.rss)
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |", label, pod,
		mib(median(s, func(x sample) float64 { return x.rss })),
		mib(median(s, func(x sample) float64 { return x.rssAnon })),
		mib(median(s, func(x sample) float64 { return x.rssFile })),
		mib(median(s, func(x sample) float64 { return x.heapInuse })),
		mib(median(s, func(x sample) float64 { return x.goSys })),
		strings.Join(runs, ", "))
}

func median(s []sample, f func(sample) float64) float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func mib(b float64) string {
	if b < 0 {
		return "n/a"
	}
	return strconv.FormatFloat(b/(1<<20), 'f', 1, 64)
}

// measurePair starts the PubSub service and a chat server using it, waits
// until both are healthy, idles, and samples both.
func measurePair(bin string, env []string, idle time.Duration) (pubsub, chat sample, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+idle)
	defer cancel()
	dir, err := os.MkdirTemp("", "chathub-idle-")
	if err != nil {
		return pubsub, chat, err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	ps, connStr, err := startPubSub(ctx, bin, env)
	if err != nil {
		return pubsub, chat, err
	}
	defer stop(ps)
	endpoint, err := endpointOf(connStr)
	if err != nil {
		return pubsub, chat, err
	}
	csFile := filepath.Join(dir, "connection-string")
	if err := os.WriteFile(csFile, []byte(connStr+"\n"), 0o600); err != nil {
		return pubsub, chat, err
	}
	addr, err := freeAddr()
	if err != nil {
		return pubsub, chat, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return pubsub, chat, err
	}
	cs := command(bin, env, "chatserver", "--listen", addr, "--metrics-listen", metricsAddr, "--hub", "idle",
		"--connection-string-file", csFile, "--log-level", "warn")
	cs.Stdout, cs.Stderr = io.Discard, os.Stderr
	if err := cs.Start(); err != nil {
		return pubsub, chat, fmt.Errorf("starting the chat server: %w", err)
	}
	defer stop(cs)
	if err := waitOK(ctx, endpoint+"/api/health"); err != nil {
		return pubsub, chat, fmt.Errorf("PubSub service: %w", err)
	}
	if err := waitOK(ctx, "http://"+addr+"/readyz"); err != nil {
		return pubsub, chat, fmt.Errorf("chat server: %w", err)
	}
	time.Sleep(idle)
	// Memory first, then /metrics: scraping allocates.
	if pubsub, err = sampleOf(ps.Process.Pid, endpoint+"/metrics"); err != nil {
		return pubsub, chat, err
	}
	chat, err = sampleOf(cs.Process.Pid, "http://"+metricsAddr+"/metrics")
	return pubsub, chat, err
}

func command(bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...) //nolint:gosec // G204: the binary under test, named by the harness's flags
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// startPubSub starts `bin pubsub` on a free port of 127.0.0.1 with a
// generated key and returns it with the connection string it printed.
func startPubSub(ctx context.Context, bin string, env []string) (*exec.Cmd, string, error) {
	cmd := command(bin, env, "pubsub", "--listen", "127.0.0.1:0", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting the PubSub service: %w", err)
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- strings.TrimSpace(sc.Text())
		}
		close(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case l, ok := <-line:
		if !ok || !strings.HasPrefix(l, "Endpoint=") {
			stop(cmd)
			return nil, "", fmt.Errorf("the PubSub service printed no connection string (%q)", l)
		}
		return cmd, l, nil
	case <-ctx.Done():
		stop(cmd)
		return nil, "", ctx.Err()
	}
}

func endpointOf(connStr string) (string, error) {
	for f := range strings.SplitSeq(connStr, ";") {
		if v, ok := strings.CutPrefix(f, "Endpoint="); ok {
			return strings.TrimSuffix(v, "/"), nil
		}
	}
	return "", errors.New("no endpoint in the connection string")
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func stop(cmd *exec.Cmd) { proc.Stop(cmd, syscall.SIGTERM, 15*time.Second) }

func waitOK(ctx context.Context, url string) error {
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not healthy: %w", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sampleOf reads pid's VmRSS and the Go memory figures of its /metrics.
func sampleOf(pid int, metricsURL string) (sample, error) {
	s := sample{rss: -1, rssAnon: -1, rssFile: -1, heapInuse: -1, goSys: -1}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	fields := map[string]*float64{"VmRSS": &s.rss, "RssAnon": &s.rssAnon, "RssFile": &s.rssFile}
	for l := range strings.SplitSeq(string(status), "\n") {
		name, v, _ := strings.Cut(l, ":")
		if dst, ok := fields[name]; ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			if err != nil {
				return s, fmt.Errorf("%s %q: %w", name, v, err)
			}
			*dst = kb * 1024
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, nil // the figures from /proc are what matters
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			s.heapInuse = f
		case "go_memstats_sys_bytes":
			s.goSys = f
		}
	}
	return s, nil
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// initStat is what GODEBUG=inittrace=1 reports for one package.
type initStat struct {
	pkg           string
	ms            float64
	bytes, allocs int64
}

// printInitTrace starts bin's PubSub service once with GODEBUG=inittrace=1
// (every role runs the same initialisers), stops it once it has printed its
// connection string, and prints the n packages whose init allocated most.
func printInitTrace(b binary, env []string, n int) error {
	cmd := command(b.path, append(slices.Clone(env), "GODEBUG=inittrace=1"), "pubsub", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	var stats []initStat
	var total initStat
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, "Serving the PubSub service") {
			break
		}
		// init <pkg> @<t> ms, <ms> ms clock, <bytes> bytes, <allocs> allocs
		f := strings.Fields(l)
		if len(f) != 11 || f[0] != "init" {
			continue
		}
		st := initStat{pkg: f[1]}
		st.ms, _ = strconv.ParseFloat(f[4], 64)
		st.bytes, _ = strconv.ParseInt(f[7], 10, 64)
		st.allocs, _ = strconv.ParseInt(f[9], 10, 64)
		stats = append(stats, st)
		total.ms += st.ms
		total.bytes += st.bytes
		total.allocs += st.allocs
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	stop(cmd)
	slices.SortFunc(stats, func(a, b initStat) int { return int(b.bytes - a.bytes) })
	fmt.Printf("%s: %d package initialisers, %.1f KiB in %d allocations, %.1f ms\n\n", b.label, len(stats),
		float64(total.bytes)/1024, total.allocs, total.ms)
	fmt.Println("| package | KiB | allocs | ms |")
	fmt.Println("|---|---:|---:|---:|")
	for _, s := range stats[:min(n, len(stats))] {
		fmt.Printf("| %s | %.1f | %d | %.2f |\n", s.pkg, float64(s.bytes)/1024, s.allocs, s.ms)
	}
	fmt.Println()
	return nil
}
