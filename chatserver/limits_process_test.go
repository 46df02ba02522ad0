// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/proc"
)

// These tests run the real `chathub chatserver` process: descriptors and
// timeouts are properties of the process and its sockets.

var (
	chathubOnce sync.Once
	chathubBin  string
	chathubErr  error
)

// buildChathub builds the chathub binary once for the package's tests.
func buildChathub(t *testing.T) string {
	t.Helper()
	chathubOnce.Do(func() {
		dir, err := os.MkdirTemp("", "chathub-bin-")
		if err != nil {
			chathubErr = err
			return
		}
		chathubBin = filepath.Join(dir, "chathub")
		out, err := exec.Command("go", "build", "-o", chathubBin, "github.com/chathub/chathub").CombinedOutput() //nolint:gosec // G204: the output path is a fresh temporary folder
		if err != nil {
			chathubErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if chathubErr != nil {
		t.Fatal(chathubErr)
	}
	return chathubBin
}

// chatProcess is a running `chathub chatserver`.
type chatProcess struct {
	addr string
	pid  int
}

// startChatProcess starts `chathub chatserver` on 127.0.0.1 with a
// connection string file (the service is never called by these tests) and
// extra flags; a non-empty shellPrefix runs it through sh (for ulimit).
func startChatProcess(t *testing.T, shellPrefix string, flags ...string) *chatProcess {
	t.Helper()
	bin := buildChathub(t)
	dir := t.TempDir()
	csFile := filepath.Join(dir, "connection-string")
	if err := os.WriteFile(csFile, []byte("Endpoint=http://127.0.0.1:9;AccessKey="+testKey+";Version=1.0;"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // the process binds it again
	args := append([]string{"chatserver", "--listen", addr, "--metrics-listen", "", "--connection-string-file", csFile, "--log-level", "warn"}, flags...)
	ctx, cancel := context.WithCancel(context.Background())
	var cmd *exec.Cmd
	if shellPrefix != "" {
		cmd = exec.CommandContext(ctx, "sh", append([]string{"-c", shellPrefix + ` && exec "$0" "$@"`, bin}, args...)...) //nolint:gosec // G204: the binary this test built and fixed flags
	} else {
		cmd = exec.CommandContext(ctx, bin, args...) //nolint:gosec // G204: the binary this test built
	}
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("chatserver output:\n%s", logs.String())
		}
	})
	// Wait until it answers /healthz.
	for i := 0; ; i++ {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			break
		}
		if i == 300 {
			t.Fatalf("the chat server did not listen on %s:\n%s", addr, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &chatProcess{addr: addr, pid: cmd.Process.Pid}
}

// healthz asks /healthz on a new connection and fails the test unless it
// answers 200 within 20 s.
func (p *chatProcess) healthz(t *testing.T) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + p.addr + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz answered %d", resp.StatusCode)
	}
}

// openFiles counts the descriptors the process holds (Linux).
func (p *chatProcess) openFiles(t *testing.T) int {
	t.Helper()
	n, err := proc.OpenFiles(p.pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// openSlow opens n connections to addr and writes prefix on each.
func openSlow(t *testing.T, addr string, n int, prefix string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, prefix); err != nil {
			// Already closed by the server: that is what the test wants.
			continue
		}
	}
	return conns
}

// waitClosed reads the connections until the server has closed want of
// them, or until wait has passed, and returns how many it closed.
func waitClosed(conns []net.Conn, want int, wait time.Duration) int {
	deadline := time.Now().Add(wait)
	closed := make(chan struct{}, len(conns))
	for _, c := range conns {
		go func() {
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				return
			}
			closed <- struct{}{}
		}()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	n := 0
	for n < want {
		select {
		case <-closed:
			n++
		case <-timer.C:
			return n
		}
	}
	return n
}

// 300 requests that promise a 200 KB body and send 5 bytes are closed once
// the body timeout passes, and /healthz answers meanwhile.
func TestSlowBodiesAreClosedByTheProcess(t *testing.T) {
	t.Parallel()
	p := startChatProcess(t, "", "--read-body-timeout", "2s")
	const n = 300
	var conns []net.Conn
	for _, path := range []string{"/eventhandler", "/negotiate?id=alice", "/healthz"} {
		conns = append(conns, openSlow(t, p.addr, n/3,
			"POST "+path+" HTTP/1.1\r\nHost: chat\r\nContent-Type: text/plain\r\nContent-Length: 200000\r\n\r\nhello")...)
	}
	p.healthz(t)
	// Without a body timeout they stay open for good; 60 s is only the
	// point at which the test gives up.
	if closed := waitClosed(conns, n, 60*time.Second); closed != n {
		t.Fatalf("the server closed %d of %d slow-body connections, want all", closed, n)
	}
	p.healthz(t)
}

// A slowloris of 1,000 connections that never finish their headers, against
// a process limited to 1,024 descriptors, neither exhausts its descriptors
// nor keeps /healthz from answering. The header timeout is long, so it is
// the pending-connection bound that holds.
func TestSlowlorisDoesNotExhaustTheProcess(t *testing.T) {
	t.Parallel()
	const n, limit = 1000, 100
	p := startChatProcess(t, "ulimit -n 1024", "--read-header-timeout", "10m", "--max-pending-connections", fmt.Sprint(limit))
	conns := openSlow(t, p.addr, n, "GET /healthz HTTP/1.1\r\nHost: chat\r\nX-Slow: ")
	p.healthz(t)
	if files := p.openFiles(t); files > limit+50 {
		t.Errorf("the process holds %d descriptors with %d slow connections open, want at most about %d", files, n, limit)
	}
	// The oldest were closed to keep at most limit waiting; 30 s is only
	// the point at which the test gives up on the rest.
	if closed := waitClosed(conns, n-limit, 30*time.Second); closed < n-limit {
		t.Fatalf("the server closed %d of %d slowloris connections, want at least %d", closed, n, n-limit)
	}
	// A second wave gets the same treatment.
	openSlow(t, p.addr, n, "GET / HTTP/1.1\r\nHost: chat\r\n")
	p.healthz(t)
	if files := p.openFiles(t); files > limit+50 {
		t.Errorf("the process holds %d descriptors after a second wave, want at most about %d", files, limit)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if chathubBin != "" {
		_ = os.RemoveAll(filepath.Dir(chathubBin))
	}
	os.Exit(code)
}
