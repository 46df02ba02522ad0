// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/proc"
	"github.com/chathub/chathub/webpubsub"
)

// These tests run the real `chathub-data pubsub` process (the binary of the data-plane pods,
// with the flags of `chathub pubsub`): what they check is about a process (memory,
// descriptors, how long it holds connections), not about the handler.

// pubsubProcess is a running `chathub-data pubsub`.
type pubsubProcess struct {
	pid      int
	endpoint string // http://127.0.0.1:<port>
	addr     string // 127.0.0.1:<port>
}

// startPubSubProcess builds cmd/chathub-data into a temporary folder and runs
// `chathub-data pubsub` with args on a free port; maxFiles > 0 sets its descriptor limit
// (ulimit -n). The process is interrupted when the test ends.
func startPubSubProcess(t *testing.T, maxFiles int, args ...string) *pubsubProcess {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chathub-data")
	build := exec.Command("go", "build", "-o", bin, "./cmd/chathub-data") //nolint:gosec // G204: the output path is the test's temporary directory
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script := `exec "$0" "$@"`
	if maxFiles > 0 {
		script = "ulimit -n " + strconv.Itoa(maxFiles) + " && " + script
	}
	argv := append([]string{"-c", script, bin, "pubsub", "--listen", "127.0.0.1:0", "--access-key", testKey, "--log-level", "warn"}, args...)
	cmd := exec.Command("bash", argv...) //nolint:gosec // G204: the binary this test built, with the test's flags
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &proc.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		proc.Stop(cmd, os.Interrupt, 15*time.Second)
		if t.Failed() {
			t.Logf("chathub-data pubsub log:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("chathub-data pubsub printed no connection string: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	cs, err := webpubsub.ParseConnectionString(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the first line is not a connection string: %v", err)
	}
	p := &pubsubProcess{pid: cmd.Process.Pid, endpoint: cs.Endpoint.String(), addr: cs.Endpoint.Host}
	if got := p.health(t, "/healthz"); got != nil {
		t.Fatalf("GET /healthz: %v", got)
	}
	return p
}

// health GETs path on a new connection and returns nil for a 200. The client gives up after
// 20 s: a bound for a failing test, not a measurement.
func (p *pubsubProcess) health(t *testing.T, path string) error {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Get(p.endpoint + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return nil
}

// metric returns the value of an unlabelled metric from /metrics.
func (p *pubsubProcess) metric(t *testing.T, name string) float64 {
	t.Helper()
	res, err := http.Get(p.endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// openFiles returns the number of descriptors the process has open.
func (p *pubsubProcess) openFiles(t *testing.T) int {
	t.Helper()
	n, err := proc.OpenFiles(p.pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// parallelDo runs fn(i) for i in [0, n) on workers goroutines.
func parallelDo(n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// Finding 1: reconnection requests without any token, each for a hub of its own, must not
// create hubs: the process keeps no hub and its memory does not grow with them.
func TestProcessUnauthenticatedRecoveryKeepsNoState(t *testing.T) {
	t.Parallel()
	p := startPubSubProcess(t, 0)
	before := p.metric(t, "process_resident_memory_bytes")
	const requests = 20000
	var upgraded atomic.Int64
	parallelDo(requests, 16, func(i int) {
		c, err := net.DialTimeout("tcp", p.addr, 10*time.Second)
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = fmt.Fprintf(c, "GET /client/hubs/hub%d?awps_connection_id=conn%d&awps_reconnection_token=guess HTTP/1.1\r\n"+
			"Host: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
			i, i, p.addr, webpubsub.SubprotocolJSONReliable)
		if err != nil {
			return
		}
		status, err := bufio.NewReader(c).ReadString('\n')
		if err == nil && strings.Contains(status, " 101 ") {
			upgraded.Add(1)
		}
	})
	if upgraded.Load() < requests/2 {
		t.Fatalf("only %d of %d recovery handshakes were answered: the test did not exercise the service", upgraded.Load(), requests)
	}
	if hubs := p.metric(t, "chathub_pubsub_hubs"); hubs != 0 {
		t.Errorf("the service keeps %v hubs after %d unauthenticated recovery requests, want 0", hubs, requests)
	}
	after := p.metric(t, "process_resident_memory_bytes")
	const bound = 96 << 20
	t.Logf("RSS %.0f MiB before, %.0f MiB after %d unauthenticated recovery requests", before/(1<<20), after/(1<<20), requests)
	if after-before > bound {
		t.Errorf("RSS grew from %.0f MiB to %.0f MiB after %d unauthenticated requests, more than %d MiB",
			before/(1<<20), after/(1<<20), requests, bound>>20)
	}
}

// slowBody opens a connection that sends the headers of a POST promising a 200 KB body,
// then 5 bytes of it, and stops.
func slowBody(p *pubsubProcess, authorization string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", p.addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	path := "/api/hubs/chat/:send?api-version=2024-12-01"
	auth := ""
	if authorization != "" {
		auth = "Authorization: " + authorization + "\r\n"
	}
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: text/plain\r\nContent-Length: 200000\r\n\r\nhello", path, p.addr, auth)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// waitClosed reads c until the service closes it and reports whether it did within limit (a
// bound for a failing test: a connection the service holds forever never closes).
func waitClosed(c net.Conn, limit time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// Finding 4: requests that stall in their body are closed once the body timeout has passed,
// whether their token was refused (the service drains the body before answering the next
// request) or accepted (the REST handler reads it).
func TestProcessSlowBodiesAreClosed(t *testing.T) {
	t.Parallel()
	p := startPubSubProcess(t, 0, "--body-timeout", "1s", "--max-unauthenticated", "100000")
	token, err := webpubsub.ServiceToken(testKey, p.endpoint+"/api/hubs/chat/:send", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const conns = 300
	open := make([]net.Conn, conns)
	for i := range open {
		auth := ""
		if i%2 == 0 {
			auth = "Bearer " + token
		}
		c, err := slowBody(p, auth)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer func() { _ = c.Close() }()
		open[i] = c
	}
	var stillOpen atomic.Int64
	parallelDo(conns, 64, func(i int) {
		if !waitClosed(open[i], 30*time.Second) {
			stillOpen.Add(1)
		}
	})
	if n := stillOpen.Load(); n > 0 {
		t.Fatalf("%d of %d connections stalled in their body were still open 30 s after a 1 s body timeout", n, conns)
	}
	if err := p.health(t, "/healthz"); err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
}

// Finding 4: with 1,024 descriptors, 1,100 stalled connections (slow headers and slow bodies,
// none authenticated, with timeouts far longer than the test) neither exhaust the process's
// descriptors nor keep its health checks out: beyond --max-unauthenticated the oldest are
// closed.
func TestProcessSlowlorisKeepsHealthChecks(t *testing.T) {
	t.Parallel()
	p := startPubSubProcess(t, 1024, "--read-header-timeout", "1h", "--body-timeout", "1h")
	const conns = 1100
	var dialed []net.Conn
	t.Cleanup(func() {
		for _, c := range dialed {
			_ = c.Close()
		}
	})
	for i := range conns {
		var c net.Conn
		var err error
		if i%2 == 0 {
			c, err = slowBody(p, "")
		} else if c, err = net.DialTimeout("tcp", p.addr, 10*time.Second); err == nil {
			_, err = fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n", p.addr) // headers never end
		}
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		dialed = append(dialed, c)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if err := p.health(t, path); err != nil {
			t.Fatalf("GET %s with %d stalled connections: %v", path, conns, err)
		}
	}
	if n := p.openFiles(t); n > DefaultMaxUnauthenticated+64 {
		t.Fatalf("the service has %d descriptors open, want at most about --max-unauthenticated (%d)", n, DefaultMaxUnauthenticated)
	}
	if closed := p.metric(t, "chathub_pubsub_unauthenticated_connections_closed_total"); closed < conns-DefaultMaxUnauthenticated {
		t.Fatalf("%v unauthenticated connections were closed, want at least %d", closed, conns-DefaultMaxUnauthenticated)
	}
}
