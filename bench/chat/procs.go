package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/emulator"
)

const (
	roleService    = "service"
	roleChatServer = "chatserver"
	hubGo          = "chat"
	hubNode        = "chatnode"
)

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
}

// processes are the child processes, stopped on exit.
type processes struct {
	mu    sync.Mutex
	cmds  []*exec.Cmd
	waits []chan error
}

func (p *processes) start(ctx context.Context, name string, cmd *exec.Cmd) error {
	cmd.Stdout = prefixWriter{name}
	cmd.Stderr = prefixWriter{name}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
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
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// startEnvironment starts the service, the Go chat server and the Node
// baseline, each as its own process, and waits until they answer.
func startEnvironment(ctx context.Context, procs *processes, o options) (*environment, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
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

	svc := exec.CommandContext(ctx, self, roleService, "--listen", svcAddr, "--key", key,
		"--handler", hubGo+"="+env.goChat.baseURL+"/eventhandler",
		"--handler", hubNode+"="+env.nodeChat.baseURL+"/eventhandler")
	if err := procs.start(ctx, "service", svc); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, env.serviceURL+"/api/health"); err != nil {
		return nil, fmt.Errorf("the local service did not start: %w", err)
	}

	chat := exec.CommandContext(ctx, self, roleChatServer, "--listen", goAddr, "--hub", hubGo)
	chat.Env = append(os.Environ(), chatserver.EnvConnectionString+"="+connStr)
	if err := procs.start(ctx, "go-chat", chat); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, env.goChat.baseURL+"/readyz"); err != nil {
		return nil, fmt.Errorf("the Go chat server did not start: %w", err)
	}

	if !o.skipBaseline {
		_, port, _ := net.SplitHostPort(nodeAddr)
		node := exec.CommandContext(ctx, o.node, o.baseline)
		node.Env = append(os.Environ(), "PORT="+port, "HUB="+hubNode, "WebPubSubConnectionString="+connStr)
		if err := procs.start(ctx, "node", node); err != nil {
			return nil, err
		}
		if err := waitHTTP(ctx, env.nodeChat.baseURL+"/negotiate?id=probe"); err != nil {
			return nil, fmt.Errorf("the Node.js baseline did not start: %w", err)
		}
	}
	return env, nil
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

// handlerFlags collects repeated --handler hub=url flags.
type handlerFlags map[string]string

func (h handlerFlags) String() string { return fmt.Sprint(map[string]string(h)) }
func (h handlerFlags) Set(v string) error {
	hub, u, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want hub=url")
	}
	h[hub] = u
	return nil
}

// runServiceRole runs the local Web PubSub service in this process with
// event handlers registered for the given hubs.
func runServiceRole(args []string) error {
	fs := flag.NewFlagSet(roleService, flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	key := fs.String("key", "", "access key")
	handlers := handlerFlags{}
	fs.Var(handlers, "handler", "hub=event handler URL (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Errors only: retries of events to a chat server that already stopped
	// are expected at the end of a run.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	emu, err := emulator.New(emulator.Config{
		Endpoint:   &url.URL{Scheme: "http", Host: *listen},
		AccessKeys: []string{*key},
		Logger:     logger,
	})
	if err != nil {
		return err
	}
	for hub, u := range handlers {
		if err := emu.SetHubSettings(hub, chatserver.EventHandlerSettings(u)); err != nil {
			return fmt.Errorf("registering %s: %w", hub, err)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: emu.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = emu.Shutdown(context.Background()); _ = hs.Close() }()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runChatServerRole runs the Go chat server exactly as `chathub chatserver`
// does, with the connection string from the environment.
func runChatServerRole(args []string) error {
	cfg := chatserver.DefaultConfig()
	cfg.LoadEnv(os.Getenv)
	fs := flag.NewFlagSet(roleChatServer, flag.ContinueOnError)
	cfg.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := chatserver.New(cfg, chatserver.Options{Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	return srv.Run(ctx, ln)
}
