// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

func TestPrintedConnectionString(t *testing.T) {
	t.Parallel()
	const key = "secret-key-0123456789abcdefghijklmnopq"
	full := "Endpoint=http://127.0.0.1:7070;AccessKey=" + key + ";Version=1.0;"
	if got := printedConnectionString(full, true); got != full {
		t.Fatalf("shown: got %q, want the full connection string", got)
	}
	got := printedConnectionString(full, false)
	if strings.Contains(got, key) || !strings.Contains(got, "Endpoint=http://127.0.0.1:7070") || !strings.Contains(got, "AccessKey=***") {
		t.Fatalf("hidden: got %q, want the endpoint with the key redacted", got)
	}
	if got := printedConnectionString("garbage", false); strings.Contains(got, "garbage") {
		t.Fatalf("unparsable: got %q, want no echo of the input", got)
	}
}

// startCommand runs RunCommand with cfg until the test ends and returns the
// first line it prints and the channel its result arrives on.
func startCommand(t *testing.T, cfg CommandConfig) (firstLine string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- RunCommand(ctx, cfg, slog.New(slog.DiscardHandler), pw)
		_ = pw.Close() // a pipe's Close always returns nil
	}()
	t.Cleanup(func() {
		cancel()
		_ = pr.Close()
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("RunCommand printed no line: %v; it returned %v", err, <-errc)
	}
	// Keep draining so a later print never blocks the command.
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return strings.TrimSpace(line), cancel, errc
}

func TestRunCommandServesUntilCancelled(t *testing.T) {
	t.Parallel()
	events := make(chan string, 8)
	handler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		events <- r.Header.Get(webpubsub.HeaderType) + " " + r.Header.Get(webpubsub.HeaderHub)
	}))
	t.Cleanup(handler.Close)
	settingsFile := filepath.Join(t.TempDir(), "hubs.json")
	settingsJSON := `{"hubs":{"chat":{"eventHandlers":[{"urlTemplate":"` + handler.URL + `/eventhandler","systemEvents":["connected"]}]}}}`
	if err := os.WriteFile(settingsFile, []byte(settingsJSON), 0o600); err != nil {
		t.Fatal(err)
	}

	line, cancel, done := startCommand(t, CommandConfig{Listen: "127.0.0.1:0", AccessKey: cmdFlagKey, SettingsFile: settingsFile})
	cs, err := webpubsub.ParseConnectionString(line)
	if err != nil {
		t.Fatalf("the first line %q is not a connection string: %v", line, err)
	}
	if cs.AccessKey != cmdFlagKey {
		t.Fatal("the printed connection string does not carry the typed --access-key")
	}
	if cs.Endpoint.Scheme != "http" || !strings.HasPrefix(cs.Endpoint.Host, "127.0.0.1:") || cs.Endpoint.Host == "127.0.0.1:0" {
		t.Fatalf("endpoint %v, want http://<bound address>", cs.Endpoint)
	}
	client, err := webpubsub.NewClient(cs, "chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Health(t.Context()); err != nil {
		t.Fatalf("health: %v", err)
	}
	access, err := client.ClientAccess(webpubsub.ClientTokenOptions{UserID: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(access.URL, nil)
	if err != nil {
		t.Fatalf("dialing the service with a token signed by the printed key: %v", err)
	}
	defer func() { _ = ws.Close() }()
	if got := <-events; got != webpubsub.EventTypeConnected+" chat" {
		t.Fatalf("the event handler of the settings file got %q, want the connected event of hub chat", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunCommand after cancel: %v", err)
	}
	var ce *websocket.CloseError
	if _, _, err := ws.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("the client got %v, want a 1001 close on shutdown", err)
	}
}

func TestRunCommandPrintsOnlyGeneratedOrTypedKeys(t *testing.T) {
	t.Parallel()
	t.Run("a key from the environment is redacted", func(t *testing.T) {
		t.Parallel()
		line, _, _ := startCommand(t, CommandConfig{Listen: "127.0.0.1:0", AccessKeyFromEnv: cmdEnvKey})
		if strings.Contains(line, cmdEnvKey) || !strings.Contains(line, "AccessKey=***") {
			t.Fatalf("printed %q, want the key redacted", line)
		}
	})
	t.Run("a key from a file is redacted", func(t *testing.T) {
		t.Parallel()
		line, _, _ := startCommand(t, CommandConfig{Listen: "127.0.0.1:0", AccessKeyFiles: []string{writeKeyFile(t, cmdFileKey)}})
		if strings.Contains(line, cmdFileKey) || !strings.Contains(line, "AccessKey=***") {
			t.Fatalf("printed %q, want the key redacted", line)
		}
	})
	t.Run("a generated key is printed", func(t *testing.T) {
		t.Parallel()
		line, _, _ := startCommand(t, CommandConfig{Listen: "127.0.0.1:0", Endpoint: "https://wps.example.com/"})
		cs, err := webpubsub.ParseConnectionString(line)
		if err != nil || ValidateAccessKey(cs.AccessKey) != nil || cs.Endpoint.String() != "https://wps.example.com" {
			t.Fatalf("printed %q (%v), want the --endpoint and a valid generated key", line, err)
		}
	})
}

func TestRunCommandFailsWithoutServing(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	tests := map[string]struct {
		cfg     CommandConfig
		wantErr string
	}{
		"an unreadable key file": {CommandConfig{Listen: "127.0.0.1:0", AccessKeyFiles: []string{filepath.Join(t.TempDir(), "nope")}}, "reading --access-key-file"},
		"a bad settings file":    {CommandConfig{Listen: "127.0.0.1:0", SettingsFile: filepath.Join(t.TempDir(), "nope")}, "loading hub settings"},
		"an address in use":      {CommandConfig{Listen: busy.Addr().String()}, "listening on " + busy.Addr().String()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			err := RunCommand(t.Context(), tc.cfg, slog.New(slog.DiscardHandler), &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if out.Len() != 0 {
				t.Fatalf("printed %q before failing", out.String())
			}
		})
	}
}
