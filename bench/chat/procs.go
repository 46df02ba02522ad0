// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chathub/chathub/bench/internal/profiling"
	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/internal/pprofserver"
	"github.com/chathub/chathub/pubsub"
	"github.com/chathub/chathub/webpubsub"
)

// The hubs of the two chat servers on the one PubSub service.
const (
	hubGo   = "chat"
	hubNode = "chatnode"
)

// benchRateFlags lift the Go chat server's per-user message limit (default 2
// per second after a burst of 10), which the benchmark's senders exceed by
// design: it measures the chat path, not the limit. The output says so.
var benchRateFlags = []string{"--user-message-rate", "1000000", "--user-message-burst", "1000000"}

// target is a chat server under test.
type target struct {
	name    string
	baseURL string
}

// environment is the running service and chat servers.
type environment struct {
	serviceURL string
	goChat     target
	nodeChat   target
	floor      target // the naive floor of the chat path (wsfloor); baseURL "" when not run
	// profiled are the processes serving their profiles (with -profile-dir): the chathub
	// children and this process, whose goroutines are the load clients.
	profiled []profiled
	// servicePID, goPID and nodePID are the children's process IDs; floorPIDs those of the
	// floor's server and its relay.
	servicePID, goPID, nodePID int
	floorPIDs                  [2]int
}

// processes are the child processes, stopped on exit.
type processes struct {
	mu    sync.Mutex
	cmds  []*exec.Cmd
	waits []chan struct{} // closed when the child has exited
}

// serviceRateLimit is the PubSub service's --rate-limit in the benchmark: none, since the
// load clients send far more messages per connection than the default allows.
const serviceRateLimit = "0"

func (p *processes) start(ctx context.Context, name string, cmd *exec.Cmd) error {
	cmd.Stdout = prefixWriter{name}
	cmd.Stderr = prefixWriter{name}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		// Children are stopped with SIGTERM, so their exit status says nothing.
		_ = cmd.Wait()
		close(done)
	}()
	p.mu.Lock()
	p.cmds = append(p.cmds, cmd)
	p.waits = append(p.waits, done)
	p.mu.Unlock()
	return nil
}

// stopAll sends SIGTERM to each child it started and waits for it; a child
// that does not stop within 5 s is killed.
func (p *processes) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.cmds) - 1; i >= 0; i-- {
		cmd := p.cmds[i]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.waits[i]:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.waits[i]
		}
	}
	p.cmds, p.waits = nil, nil
}

type prefixWriter struct{ name string }

func (w prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		fmt.Fprintf(os.Stderr, "   [%s] %s\n", w.name, line)
	}
	return len(b), nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// startEnvironment starts the service, the Go chat server and the Node
// baseline, each as its own process, and waits until they answer.
func startEnvironment(ctx context.Context, procs *processes, o options) (*environment, error) {
	svcAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	goAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	nodeAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	key := randomKey()
	connStr := "Endpoint=http://" + svcAddr + ";AccessKey=" + key + ";Version=1.0;"
	env := &environment{
		serviceURL: "http://" + svcAddr,
		goChat:     target{name: "Go chat server", baseURL: "http://" + goAddr},
		nodeChat:   target{name: "Node.js baseline", baseURL: "http://" + nodeAddr},
	}

	settingsFile, err := writeSettings(map[string]string{
		hubGo:   env.goChat.baseURL + "/eventhandler",
		hubNode: env.nodeChat.baseURL + "/eventhandler",
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(settingsFile) }() // read once, at start-up
	//nolint:gosec // G204: runs the chathub binary given on the command line
	svc := exec.CommandContext(ctx, o.chathub, "pubsub", "--listen", svcAddr,
		"--settings-file", settingsFile, "--log-level", "error", "--rate-limit", serviceRateLimit)
	fmt.Fprintf(os.Stderr, "   the PubSub service runs with --rate-limit %s (no per-connection rate limit): the load clients send faster than a person\n", serviceRateLimit)
	svc.Env = append(os.Environ(), pubsub.EnvAccessKey+"="+key)
	if err := env.profile(o, svc, "PubSub service"); err != nil {
		return nil, err
	}
	if err := procs.start(ctx, "service", svc); err != nil {
		return nil, err
	}
	env.servicePID = svc.Process.Pid
	if err := waitHTTP(ctx, env.serviceURL+"/api/health"); err != nil {
		return nil, fmt.Errorf("the PubSub service did not start: %w", err)
	}

	//nolint:gosec // G204: the chathub binary given on the command line
	chat := exec.CommandContext(ctx, o.chathub, append([]string{"chatserver", "--listen", goAddr, "--metrics-listen", "", "--hub", hubGo}, benchRateFlags...)...)
	chat.Env = append(os.Environ(), chatserver.EnvConnectionString+"="+connStr)
	if err := env.profile(o, chat, "Go chat server"); err != nil {
		return nil, err
	}
	if err := procs.start(ctx, "go-chat", chat); err != nil {
		return nil, err
	}
	env.goPID = chat.Process.Pid
	if err := waitHTTP(ctx, env.goChat.baseURL+"/readyz"); err != nil {
		return nil, fmt.Errorf("the Go chat server did not start: %w", err)
	}

	if o.profileDir != "" {
		// The load clients run in this process: their profile shows what the chat costs the
		// (browser-like) clients, which share the machine with the servers here.
		addr, err := pprofserver.Start(ctx, "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		env.profiled = append(env.profiled, profiled{name: "clients", addr: addr.String()})
	}

	if !o.skipBaseline {
		_, port, _ := net.SplitHostPort(nodeAddr)
		node := exec.CommandContext(ctx, o.node, o.baseline) //nolint:gosec // G204: node and the baseline script given on the command line
		node.Env = append(os.Environ(), "PORT="+port, "HUB="+hubNode, "WebPubSubConnectionString="+connStr)
		if err := procs.start(ctx, "node", node); err != nil {
			return nil, err
		}
		env.nodePID = node.Process.Pid
		if err := waitHTTP(ctx, env.nodeChat.baseURL+"/negotiate?id=probe"); err != nil {
			return nil, fmt.Errorf("the Node.js baseline did not start: %w", err)
		}
	}
	if o.floor != "" {
		if err := env.startFloor(ctx, procs, o.floor); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// startFloor runs the naive floor of the chat path: wsfloor as the WebSocket server that POSTs
// every client frame to a second wsfloor, the relay, which publishes it back as a chat message
// (two loopback HTTP hops and one fan-out, nothing else).
func (env *environment) startFloor(ctx context.Context, procs *processes, bin string) error {
	floorAddr, err := freePort()
	if err != nil {
		return err
	}
	relayAddr, err := freePort()
	if err != nil {
		return err
	}
	//nolint:gosec // G204: the wsfloor binary given on the command line
	relay := exec.CommandContext(ctx, bin, "--listen", relayAddr, "--relay", "http://"+floorAddr)
	if err := procs.start(ctx, "floor-relay", relay); err != nil {
		return err
	}
	//nolint:gosec // G204: likewise
	floor := exec.CommandContext(ctx, bin, "--listen", floorAddr, "--upstream", "http://"+relayAddr+"/eventhandler")
	if err := procs.start(ctx, "floor", floor); err != nil {
		return err
	}
	env.floor = target{name: "naive floor (wsfloor)", baseURL: "http://" + floorAddr}
	env.floorPIDs = [2]int{floor.Process.Pid, relay.Process.Pid}
	if err := waitHTTP(ctx, env.floor.baseURL+"/negotiate?id=probe"); err != nil {
		return fmt.Errorf("the floor did not start: %w", err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", relayAddr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the floor's relay did not start: %w", err)
		}
	}
}

// profile makes cmd (a chathub process) serve its profiles on a free loopback port when
// profiles are asked for.
func (env *environment) profile(o options, cmd *exec.Cmd, name string) error {
	if o.profileDir == "" {
		return nil
	}
	addr, err := freePort()
	if err != nil {
		return err
	}
	cmd.Env = append(cmd.Env, profiling.EnvFor(addr))
	env.profiled = append(env.profiled, profiled{name: strings.ReplaceAll(strings.ToLower(name), " ", "-"), addr: addr})
	return nil
}

// waitHTTP polls u until it answers 200, for up to 30 s.
func waitHTTP(ctx context.Context, u string) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if strings.HasSuffix(u, "/api/health") {
			req.Method = http.MethodHead
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return last
}

// writeSettings writes a hub settings file for `chathub pubsub --settings-file` that
// registers the chat's event handler (chatserver.EventHandlerSettings) for each hub.
func writeSettings(handlers map[string]string) (string, error) {
	hubs := map[string]webpubsub.HubProperties{}
	for hub, u := range handlers {
		hubs[hub] = chatserver.EventHandlerSettings(u).Properties
	}
	b, err := json.Marshal(map[string]any{"hubs": hubs})
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "chat-bench-settings-*.json")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close() // the write error is the one to report
		return "", err
	}
	return f.Name(), f.Close()
}
