// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// The comparison ("compare" scenario) runs the same broadcast against three servers, one
// after the other in each round: the PubSub service, Centrifugo (a self-hosted real-time
// server in Go, its JSON protocol over WebSocket and its HTTP publish API) and wsfloor (a
// naive WebSocket server without a protocol, the floor of what the machine can do). Each
// server is started afresh for its turn, gets the same clients (raw sockets read by the
// epoll loops of this process), the same payload and the same sends, and is stopped again.

// compareConfig holds the comparison's flags.
type compareConfig struct {
	centrifugo   string
	floor        string
	rounds       int
	sends        int
	rate         float64
	payload      int
	conns        int
	pollers      int
	pollInterval time.Duration
}

// peer is one server in the comparison while it runs.
type peer struct {
	pid     int
	dial    func() (*rawConn, error)
	publish func(ctx context.Context, payload []byte) error
	stop    func()
}

// peerKind starts one kind of server.
type peerKind struct {
	name  string
	start func() (*peer, error)
}

// compareRun is one server's measurements in one round.
type compareRun struct {
	deliveries       float64 // per second, from the first send to the last receipt
	p50, p99         time.Duration
	rssPerConn       float64 // bytes
	lost             int64
	sendErrors       int64
	loadStart, loads string
}

// centrifugoChannel is the one channel every Centrifugo client subscribes to.
const centrifugoChannel = "bench"

// makePayload returns the comparison's JSON payload of size bytes (at least 32): the send
// time in Unix nanoseconds as the number "t", padded with "p".
func makePayload(size int, sent int64) []byte {
	head := fmt.Sprintf(`{"t":%019d,"p":"`, sent)
	pad := max(0, size-len(head)-2)
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

// runCompare runs the rounds and returns the table.
func runCompare(c compareConfig, chathub func() (*peer, error)) (string, error) {
	kinds := []peerKind{
		{"ChatHub PubSub service", chathub},
		{"Centrifugo " + centrifugoVersion(c.centrifugo), func() (*peer, error) { return startCentrifugo(c.centrifugo) }},
		{"wsfloor (naive floor)", func() (*peer, error) { return startFloor(c.floor) }},
	}
	runs := make([][]compareRun, len(kinds))
	loadStart := loadAverage()
	for round := range c.rounds {
		for k, kind := range kinds {
			r, err := compareOne(c, kind)
			if err != nil {
				return "", fmt.Errorf("%s, round %d: %w", kind.name, round+1, err)
			}
			fmt.Fprintf(os.Stderr, "wpsload: compare round %d, %s: %s deliveries/s, p50 %v, p99 %v, %.1f KiB RSS per connection, %d lost, %d sends failed, load %s → %s\n",
				round+1, kind.name, thousands(int(r.deliveries)), r.p50, r.p99, r.rssPerConn/1024, r.lost, r.sendErrors, r.loadStart, r.loads)
			runs[k] = append(runs[k], r)
		}
	}
	w := new(strings.Builder)
	rate := fmt.Sprintf("%g broadcasts/s", c.rate)
	if c.rate <= 0 {
		rate = "back to back"
	}
	fmt.Fprintf(w, "\nComparison: %s WebSocket connections, %d broadcasts of a %d-byte JSON payload (%s), %d rounds (servers alternating; medians of the rounds)\n\n",
		thousands(c.conns), c.sends, c.payload, rate, c.rounds)
	fmt.Fprintf(w, "| server | deliveries/s | p50 send → received | p99 send → received | RSS per idle connection | lost (all rounds) | load average at start → end |\n|---|---|---|---|---|---|---|\n")
	for k, kind := range kinds {
		rs := runs[k]
		var lost, failed int64
		starts, ends := make([]string, len(rs)), make([]string, len(rs))
		for i, r := range rs {
			lost += r.lost
			failed += r.sendErrors
			starts[i], ends[i] = r.loadStart, r.loads
		}
		lostCell := fmt.Sprintf("%d of %s", lost, thousands(c.rounds*c.sends*c.conns))
		if failed > 0 {
			lostCell += fmt.Sprintf(" (%d sends failed)", failed)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.1f KiB | %s | %s → %s |\n", kind.name,
			thousands(int(median(rs, func(r compareRun) float64 { return r.deliveries }))),
			time.Duration(median(rs, func(r compareRun) float64 { return float64(r.p50) })).Round(100*time.Microsecond),
			time.Duration(median(rs, func(r compareRun) float64 { return float64(r.p99) })).Round(100*time.Microsecond),
			median(rs, func(r compareRun) float64 { return r.rssPerConn })/1024, lostCell,
			strings.Join(starts, "/"), strings.Join(ends, "/"))
	}
	fmt.Fprintf(w, "\nLoad average (1 min) at the start of the comparison: %s; at the end: %s. The PubSub service runs with --rate-limit %s (no per-connection message limit); Centrifugo in insecure client mode with its write buffer pool on (websocket.use_write_buffer_pool) and the HTTP API key; wsfloor queues %d frames per connection and drops beyond.\n",
		loadStart, loadAverage(), serviceRateLimit, floorQueue)
	return w.String(), nil
}

// floorQueue is wsfloor's queue per connection (bench/wsfloor).
const floorQueue = 256

// median returns the median of get over runs (the upper one for an even count).
func median[T any](runs []T, get func(T) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = get(r)
	}
	return medianOf(v)
}

// medianOf returns the median of v (the upper middle value for an even count), 0 for none.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// compareOne starts a server, connects the clients, measures the memory of the idle
// connections, broadcasts, and stops the server.
func compareOne(c compareConfig, kind peerKind) (compareRun, error) {
	var r compareRun
	p, err := kind.start()
	if err != nil {
		return r, err
	}
	defer p.stop()
	rss0, err := rss(p.pid)
	if err != nil {
		return r, err
	}
	f, err := dialFleet(c.conns, c.pollers, c.pollInterval, func(int) (*rawConn, error) { return p.dial() })
	if err != nil {
		return r, err
	}
	defer f.close()
	time.Sleep(3 * time.Second) // let the server settle (GC, stack shrinking)
	rss1, err := rss(p.pid)
	if err != nil {
		return r, err
	}
	r.rssPerConn = float64(rss1-rss0) / float64(c.conns)

	rec := newRecorder(c.sends * c.conns)
	f.resetCounts()
	f.rec.Store(rec)
	defer f.rec.Store(nil)
	var interval time.Duration
	if c.rate > 0 {
		interval = time.Duration(float64(time.Second) / c.rate)
	}
	ctx := context.Background()
	r.loadStart = loadAverage()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range c.sends {
		if interval > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.publish(ctx, makePayload(c.payload, time.Now().UnixNano())); err != nil {
					failed.Add(1)
				}
			}()
		} else if err := p.publish(ctx, makePayload(c.payload, time.Now().UnixNano())); err != nil {
			failed.Add(1)
		}
	}
	wg.Wait()
	want := int64(c.sends * c.conns)
	deadline := time.Now().Add(30 * time.Second)
	for rec.n.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // late duplicates would show in the counts
	r.loads = loadAverage()
	got := rec.n.Load()
	if got == 0 {
		return r, fmt.Errorf("no message was delivered (%d sends failed)", failed.Load())
	}
	r.sendErrors = failed.Load()
	r.lost = f.lost(c.conns, int64(c.sends))
	r.deliveries = float64(got) / time.Duration(rec.last.Load()-start.UnixNano()).Seconds()
	lat := rec.samples[:min(got, int64(len(rec.samples)))]
	r.p50, r.p99 = percentile(lat, 50), percentile(lat, 99)
	return r, nil
}

// rss returns the resident set size of process pid.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseRSS(string(b))
}

// parseRSS returns the VmRSS line of a /proc/<pid>/status text in bytes.
func parseRSS(status string) (int64, error) { return parseStatusKB(status, "VmRSS") }

// parseStatusKB returns a field in kB (VmRSS, RssAnon, ...) of a /proc/<pid>/status text in
// bytes.
func parseStatusKB(status, field string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected %s line %q", field, line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s line in the process status", field)
}

// chathubPeer starts the PubSub service for one turn; its clients connect with a token and
// the broadcasts are REST SendToAll calls with the payload as application/json.
func chathubPeer(bin, hub, key, handlerURL string) (*peer, error) {
	svc, err := startService(bin, hub, key, handlerURL, "")
	if err != nil {
		return nil, err
	}
	rest, err := webpubsub.NewClient(svc.cs, hub, &webpubsub.ClientOptions{HTTPClient: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}})
	if err != nil {
		svc.stop()
		return nil, err
	}
	access, err := rest.ClientAccess(webpubsub.ClientTokenOptions{TTL: time.Hour})
	if err != nil {
		svc.stop()
		return nil, err
	}
	return &peer{
		pid:  svc.cmd.Process.Pid,
		dial: func() (*rawConn, error) { return dialRaw(access.URL, 20*time.Second, nil) },
		publish: func(ctx context.Context, payload []byte) error {
			return rest.SendToAll(ctx, webpubsub.Content{ContentType: webpubsub.ContentTypeJSON, Data: payload}, nil)
		},
		stop: svc.stop,
	}, nil
}

// startCentrifugo starts Centrifugo on a free loopback port with a configuration file of
// its own: insecure client mode (clients connect without a token and may subscribe to any
// channel), the HTTP API with a random key, no usage statistics (they would go to the
// internet), the health endpoint for the start-up check.
func startCentrifugo(bin string) (*peer, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wpsload-centrifugo")
	if err != nil {
		return nil, err
	}
	portNum, _ := strconv.Atoi(port)
	cfg := map[string]any{
		"http_server": map[string]any{"address": host, "port": portNum},
		"log":         map[string]any{"level": "error"},
		"client":      map[string]any{"insecure": true, "allowed_origins": []string{"*"}},
		"http_api":    map[string]any{"key": key},
		"websocket":   map[string]any{"use_write_buffer_pool": true},
		"health":      map[string]any{"enabled": true},
		"usage_stats": map[string]any{"disabled": true},
	}
	b, _ := json.Marshal(cfg)
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	//nolint:gosec // G204: the centrifugo binary given on the command line
	cmd := exec.Command(bin, "--config", file)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s (make centrifugo builds it): %w", bin, err)
	}
	stop := func() { stopProcess(cmd); _ = os.RemoveAll(dir) }
	base := "http://" + addr
	if err := waitHealthy(base + "/health"); err != nil {
		stop()
		return nil, fmt.Errorf("centrifugo did not start: %w", err)
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	return &peer{
		pid: cmd.Process.Pid,
		dial: func() (*rawConn, error) {
			return dialRaw("ws://"+addr+"/connection/websocket", 20*time.Second, centrifugoHello)
		},
		publish: func(ctx context.Context, payload []byte) error {
			body := append(append([]byte(`{"channel":"`+centrifugoChannel+`","data":`), payload...), '}')
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/publish", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", key)
			resp, err := httpc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK || bytes.Contains(reply, []byte(`"error"`)) {
				return fmt.Errorf("publish: HTTP %d: %s", resp.StatusCode, reply)
			}
			return nil
		},
		stop: stop,
	}, nil
}

// centrifugoHello sends Centrifugo's connect and subscribe commands (JSON protocol, one
// command per frame) and reads until the subscribe reply.
func centrifugoHello(nc net.Conn, pending []byte) ([]byte, error) {
	for _, cmd := range []string{`{"id":1,"connect":{}}`, `{"id":2,"subscribe":{"channel":"` + centrifugoChannel + `"}}`} {
		if _, err := nc.Write(maskedFrame(0x81, []byte(cmd))); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, 4096)
	b := pending
	for {
		for {
			op, payload, rest, ok := nextFrame(b)
			if !ok {
				break
			}
			b = rest
			if op == 0x8 {
				return nil, fmt.Errorf("centrifugo closed the connection: %q", payload)
			}
			if reply, ok := centrifugoReply(payload, 2); ok {
				if bytes.Contains(reply, []byte(`"error"`)) {
					return nil, fmt.Errorf("centrifugo refused the subscription: %s", reply)
				}
				return b, nil
			}
		}
		n, err := nc.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("waiting for the subscribe reply: %w", err)
		}
		b = append(b, buf[:n]...)
	}
}

// centrifugoReply returns the reply with the given id among the newline-separated replies
// of a Centrifugo JSON protocol frame.
func centrifugoReply(payload []byte, id int) ([]byte, bool) {
	for line := range bytes.SplitSeq(payload, []byte{'\n'}) {
		var r struct {
			ID int `json:"id"`
		}
		if json.Unmarshal(line, &r) == nil && r.ID == id {
			return line, true
		}
	}
	return nil, false
}

// centrifugoVersion returns the version the binary reports ("v6.9.1"), or its file name.
func centrifugoVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if f := strings.Fields(string(out)); err == nil && len(f) >= 2 && f[0] == "Centrifugo" {
		return f[1]
	}
	return filepath.Base(bin)
}

// startFloor starts wsfloor; its clients connect to /ws and the broadcasts are POST
// /publish with the payload as the body.
func startFloor(bin string) (*peer, error) {
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	stop := func() { stopProcess(cmd) }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("reading wsfloor's address: %w", err)
	}
	base := strings.TrimSpace(line)
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	return &peer{
		pid: cmd.Process.Pid,
		dial: func() (*rawConn, error) {
			return dialRaw("ws"+strings.TrimPrefix(base, "http")+"/ws", 20*time.Second, nil)
		},
		publish: func(ctx context.Context, payload []byte) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/publish", bytes.NewReader(payload))
			if err != nil {
				return err
			}
			resp, err := httpc.Do(req)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				return fmt.Errorf("publish: HTTP %d", resp.StatusCode)
			}
			return nil
		},
		stop: stop,
	}, nil
}

// stopProcess interrupts cmd and kills it when it has not exited within 15 s.
func stopProcess(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// waitHealthy polls u until it answers 200, for up to 30 s.
func waitHealthy(u string) error {
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(u) //nolint:gosec // G107: the URL of a server this harness started
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
	}
	return last
}
