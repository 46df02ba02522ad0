// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const validConnStr = "Endpoint=http://127.0.0.1:9;AccessKey=" + testKey + ";Version=1.0;"

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		mutate  func(*Config)
		wantErr string // "" => valid
	}{
		"the defaults with a connection string are valid": {mutate: func(c *Config) {}},
		"a connection string file is enough": {
			mutate: func(c *Config) { c.ConnectionString = ""; c.ConnectionStringFile = "/run/secret" },
		},
		"embedded mode needs no connection string": {
			mutate: func(c *Config) { c.ConnectionString = ""; c.Embedded = true },
		},
		"no connection string at all is refused": {
			mutate:  func(c *Config) { c.ConnectionString = "" },
			wantErr: "no Web PubSub connection string: set $CHATHUB_CONNECTION_STRING (or $WebPubSubConnectionString) or --connection-string-file",
		},
		"a connection string without an endpoint is refused": {
			mutate:  func(c *Config) { c.ConnectionString = "AccessKey=" + testKey },
			wantErr: "the connection string in $CHATHUB_CONNECTION_STRING is invalid",
		},
		"a connection string without a key is refused": {
			mutate:  func(c *Config) { c.ConnectionString = "Endpoint=http://x" },
			wantErr: "AccessKey",
		},
		"a garbled connection string is refused without echoing it": {
			mutate:  func(c *Config) { c.ConnectionString = "Endpoint=http://x;" + testKey },
			wantErr: "is invalid",
		},
		"a bad hub name is refused": {
			mutate:  func(c *Config) { c.Hub = "9chat" },
			wantErr: "the hub name (--hub) is invalid",
		},
		"an empty listen address is refused": {
			mutate:  func(c *Config) { c.Listen = "" },
			wantErr: "listen address",
		},
		"a token lifetime under a minute is refused": {
			mutate:  func(c *Config) { c.TokenTTL = time.Second },
			wantErr: "between 1m and 24h",
		},
		"a token lifetime over a day is refused": {
			mutate:  func(c *Config) { c.TokenTTL = 25 * time.Hour },
			wantErr: "between 1m and 24h",
		},
		"an event time tolerance under a second is refused": {
			mutate:  func(c *Config) { c.EventTimeTolerance = 0 },
			wantErr: "the event time tolerance (--event-time-tolerance) must be at least 1s, not 0s",
		},
		"a negative message rate is refused": {
			mutate:  func(c *Config) { c.UserMessageRate = -1 },
			wantErr: "the user message rate (--user-message-rate) must be between 0 and 1000000, not -1",
		},
		"a message rate of 0 (no limit) is accepted": {
			mutate: func(c *Config) { c.UserMessageRate = 0 },
		},
		"a message burst of 0 is refused": {
			mutate:  func(c *Config) { c.UserMessageBurst = 0 },
			wantErr: "the user message burst (--user-message-burst) must be between 1 and 1000000, not 0",
		},
		"a zero body timeout is refused": {
			mutate:  func(c *Config) { c.ReadBodyTimeout = 0 },
			wantErr: "the read body timeout (--read-body-timeout) must be positive, not 0s",
		},
		"a zero header timeout is refused": {
			mutate:  func(c *Config) { c.ReadHeaderTimeout = 0 },
			wantErr: "the read header timeout (--read-header-timeout) must be positive",
		},
		"a zero idle timeout is refused": {
			mutate:  func(c *Config) { c.IdleTimeout = 0 },
			wantErr: "the idle timeout (--idle-timeout) must be positive",
		},
		"no pending connections at all is refused": {
			mutate:  func(c *Config) { c.MaxPendingConnections = 0 },
			wantErr: "the pending connection limit (--max-pending-connections) must be at least 1, not 0",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(validConnStr)
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted the config, want an error containing %q", tc.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", msg, tc.wantErr)
			}
			if strings.Contains(msg, testKey) || strings.Contains(msg, testKey[:12]) {
				t.Errorf("error %q contains the access key", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one sentence", msg)
			}
		})
	}
}

func TestConfigLayersDefaultsEnvAndFlags(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	if cfg.Hub != "chat" || cfg.TokenTTL != time.Hour || cfg.Listen != ":8080" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	env := map[string]string{EnvConnectionString: " " + validConnStr + " "}
	cfg.LoadEnv(func(k string) string { return env[k] })
	if cfg.ConnectionString != validConnStr {
		t.Errorf("the environment's connection string was not taken (trimmed)")
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.BindFlags(fs)
	err := fs.Parse([]string{"--listen", "127.0.0.1:9999", "--hub", "lobby", "--token-ttl", "10m",
		"--proxy-client", "--connection-string-file", "/tmp/cs"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Listen: "127.0.0.1:9999", Hub: "lobby", TokenTTL: 10 * time.Minute, ProxyClient: true,
		ConnectionStringFile: "/tmp/cs", ConnectionString: validConnStr}
	if cfg.Listen != want.Listen || cfg.Hub != want.Hub || cfg.TokenTTL != want.TokenTTL ||
		cfg.ProxyClient != want.ProxyClient || cfg.ConnectionStringFile != want.ConnectionStringFile ||
		cfg.ConnectionString != want.ConnectionString {
		t.Errorf("flags not applied: got %+v", cfg)
	}
}

func TestStartupFailsClearlyOnABadConnectionStringFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := map[string]struct {
		content *string // nil => no file
		wantErr string
	}{
		"a missing file": {content: nil, wantErr: "cannot read the connection string file"},
		"an empty file":  {content: strPtr(""), wantErr: "is invalid"},
		"a file with a key but no endpoint": {
			content: strPtr("AccessKey=" + testKey + ";"), wantErr: "is invalid",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := testConfig("")
			cfg.ConnectionStringFile = path
			_, err := New(cfg, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q contains the access key", err)
			}
		})
	}
}

func TestConnectionStringFileIsReloadedOnChange(t *testing.T) {
	t.Parallel()
	first := newRecordingService(t)
	second := newRecordingService(t)
	path := filepath.Join(t.TempDir(), "connectionString")
	if err := os.WriteFile(path, []byte(first.connectionString()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("")
	cfg.ConnectionStringFile = path
	srv, ts := startChat(t, cfg)
	if got := srv.ServiceEndpoint(); got != first.ts.URL {
		t.Fatalf("endpoint %s, want %s", got, first.ts.URL)
	}

	// A broken file keeps the previous connection string.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := srv.creds.reload(); changed || err == nil {
		t.Fatalf("reload of a broken file: changed=%v err=%v, want an error and no change", changed, err)
	}
	connectedEvent("alice").post(t, ts.URL)
	if n := len(first.sent()); n != 1 {
		t.Fatalf("after a broken reload the first service got %d broadcasts, want 1", n)
	}

	// A new valid file moves the server to the other service.
	if err := os.WriteFile(path, []byte(second.connectionString()), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := srv.creds.reload(); !changed || err != nil {
		t.Fatalf("reload: changed=%v err=%v, want a change", changed, err)
	}
	if got := srv.ServiceEndpoint(); got != second.ts.URL {
		t.Fatalf("endpoint %s after reload, want %s", got, second.ts.URL)
	}
	connectedEvent("bob").post(t, ts.URL)
	if n := len(second.sent()); n != 1 {
		t.Errorf("the second service got %d broadcasts, want 1", n)
	}
	if changed, _ := srv.creds.reload(); changed {
		t.Error("reloading an unchanged file reported a change")
	}
}

func TestConnectionStringFileIsWatched(t *testing.T) {
	t.Parallel()
	first := newRecordingService(t)
	second := newRecordingService(t)
	path := filepath.Join(t.TempDir(), "connectionString")
	if err := os.WriteFile(path, []byte(first.connectionString()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("")
	cfg.ConnectionStringFile = path
	cfg.ReloadInterval = 20 * time.Millisecond
	srv, _ := startChat(t, cfg)
	changed := make(chan struct{}, 1)
	srv.creds.onChange = func() { changed <- struct{}{} }
	ctx := t.Context()
	go srv.Watch(ctx)

	if err := os.WriteFile(path, []byte(second.connectionString()), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the changed file was not picked up")
	}
	if got := srv.ServiceEndpoint(); got != second.ts.URL {
		t.Errorf("endpoint %s, want %s", got, second.ts.URL)
	}
}
