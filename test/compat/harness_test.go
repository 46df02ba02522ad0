// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package compat checks that the official Azure Web PubSub Node SDKs (from npm, installed in
// hack/npm/node_modules) work unchanged against a real `chathub pubsub` process.
package compat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/webpubsub"

	"github.com/chathub/chathub/internal/proc"
)

// accessKey is the key the service under test runs with (test-only, never a real secret).
const accessKey = "compat-test-access-key-0123456789-abcdefghijklmnop"

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// moduleRoot returns the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// chathub returns the chathub binary: $CHATHUB_BIN when set, else one built once per run.
func chathub(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHATHUB_BIN"); p != "" {
		return p
	}
	root := moduleRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "chathub-compat-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "chathub")
		cmd := exec.Command("go", "build", "-o", binPath, ".") //nolint:gosec // G204: the output path is the test's temporary directory
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building chathub: %v", buildErr)
	}
	return binPath
}

// nodeModules returns hack/npm/node_modules, failing when the SDKs are not installed.
func nodeModules(t *testing.T) string {
	t.Helper()
	nm := filepath.Join(moduleRoot(t), "hack", "npm", "node_modules")
	for _, pkg := range []string{"@azure/web-pubsub", "@azure/web-pubsub-client", "@azure/web-pubsub-express", "express", "ws"} {
		if _, err := os.Stat(filepath.Join(nm, pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s is not installed in %s: run 'make npm' first", pkg, nm)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not on PATH: install Node.js 20 to run the SDK compatibility tests")
	}
	return nm
}

// service is a running `chathub pubsub` process.
type service struct {
	connectionString string
	endpoint         string
}

// startService runs `chathub pubsub` on a free 127.0.0.1 port and waits until it is healthy.
func startService(t *testing.T) *service {
	t.Helper()
	svc, _ := launchService(t)
	svc.waitHealthy(t)
	return svc
}

// launchService runs `chathub pubsub` with extra flags on a free 127.0.0.1 port and returns
// once it has printed its connection string, with the service's log.
func launchService(t *testing.T, extra ...string) (*service, *proc.SyncBuffer) {
	t.Helper()
	bin := chathub(t)
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"pubsub", "--listen", "127.0.0.1:0", "--access-key", accessKey, "--log-level", "debug"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // G204: the chathub binary this test built
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &proc.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chathub pubsub: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("chathub pubsub log:\n%s", redact(stderr.String()))
		}
	})
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var cs string
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("chathub pubsub exited before printing its connection string:\n%s", redact(stderr.String()))
		}
		cs = strings.TrimSpace(l)
	case <-time.After(30 * time.Second):
		t.Fatalf("chathub pubsub printed no connection string within 30 s:\n%s", redact(stderr.String()))
	}
	parsed, err := webpubsub.ParseConnectionString(cs)
	if err != nil {
		t.Fatalf("the first line of chathub pubsub is not a connection string: %v", err)
	}
	if parsed.AccessKey != accessKey {
		t.Fatal("the printed connection string does not carry the --access-key")
	}
	return &service{connectionString: cs, endpoint: parsed.Endpoint.String()}, stderr
}

// waitHealthy waits until the service answers HEAD /api/health.
func (s *service) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodHead, s.endpoint+"/api/health", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("HEAD /api/health never answered 200 (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// registerHandler puts the hub's event handler through the ARM-shaped API with the webpubsub
// HubsClient, as the operator does.
func (s *service) registerHandler(t *testing.T, hub, urlTemplate string) {
	t.Helper()
	c, err := webpubsub.NewHubsClient(s.endpoint,
		webpubsub.ResourceID{SubscriptionID: "compat", ResourceGroup: "compat", Name: "local"},
		webpubsub.AccessKeyTokenSource(accessKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.CreateOrUpdate(ctx, hub, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{
		EventHandlers: []webpubsub.EventHandlerSettings{{
			URLTemplate:      urlTemplate,
			UserEventPattern: "*",
			SystemEvents:     []string{"connect", "connected", "disconnected"},
		}},
	}})
	if err != nil {
		t.Fatalf("registering the event handler of hub %s: %v", hub, err)
	}
}

// nodeScript is a running Node script that speaks JSON lines on stdout.
type nodeScript struct {
	name   string
	lines  chan map[string]any
	stdin  io.WriteCloser
	stderr *proc.SyncBuffer
	done   chan struct{} // closed when the script has exited
}

// startNode runs test/compat/<script> with NODE_PATH pointing at the npm packages.
func startNode(t *testing.T, script string, env map[string]string) *nodeScript {
	t.Helper()
	nm := nodeModules(t)
	cmd := exec.Command("node", script) //nolint:gosec // G204: one of the scripts in test/compat
	cmd.Env = append(os.Environ(), "NODE_PATH="+nm, "NODE_NO_WARNINGS=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	n := &nodeScript{name: script, lines: make(chan map[string]any, 256), stdin: stdin, stderr: &proc.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node %s: %v", script, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"unparsed": sc.Text()}
			}
			n.lines <- m
		}
		close(n.lines)
		_ = cmd.Wait() // the script is stopped by closing its stdin; t.Failed shows its stderr
		close(n.done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("node %s stderr:\n%s", script, n.stderr.String())
		}
	})
	return n
}

// next returns the next JSON line, failing after timeout or when the script ends.
func (n *nodeScript) next(t *testing.T, timeout time.Duration) map[string]any {
	t.Helper()
	select {
	case m, ok := <-n.lines:
		if !ok {
			t.Fatalf("node %s ended early", n.name)
		}
		if m["result"] == "error" {
			t.Fatalf("node %s failed: %v", n.name, m["error"])
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("node %s printed nothing within %s", n.name, timeout)
	}
	return nil
}

// expectOK reads lines until the script reports its result.
func (n *nodeScript) expectOK(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := n.next(t, time.Until(deadline))
		if m["result"] == "ok" {
			return
		}
	}
}

// redact hides the test access key should a log ever contain it.
func redact(s string) string {
	return strings.ReplaceAll(s, accessKey, "***")
}
