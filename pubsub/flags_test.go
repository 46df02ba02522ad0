// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const (
	cmdFlagKey  = "flag-key-0123456789abcdefghijklmnopqrstuv"
	cmdFileKey  = "file-key-0123456789abcdefghijklmnopqrstuv"
	cmdEnvKey   = "env-key-0123456789abcdefghijklmnopqrstuvw"
	cmdFileKey2 = "second-key-0123456789abcdefghijklmnopqrst"
)

// envOf returns a getenv that knows only vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// loadCommandConfig configures c the way `chathub pubsub` does: environment,
// flags, files, then Validate.
func loadCommandConfig(t *testing.T, env map[string]string, args ...string) (CommandConfig, error) {
	t.Helper()
	c := DefaultCommandConfig()
	c.LoadEnv(envOf(env))
	fs := flag.NewFlagSet("pubsub", flag.ContinueOnError)
	c.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	if err := c.LoadFiles(); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func writeKeyFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommandConfigLayersDefaultsEnvAndFlags(t *testing.T) {
	t.Parallel()
	c, err := loadCommandConfig(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := CommandConfig{Listen: "127.0.0.1:7070", ReloadInterval: 2 * time.Second, RateLimit: 50, RateBurst: 100,
		ReadHeaderTimeout: 10 * time.Second, BodyTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxUnauthenticated: 256}
	if diff := cmp.Diff(want, c, cmpopts.IgnoreUnexported(CommandConfig{}, NATSConfig{})); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}

	settingsFile := filepath.Join(t.TempDir(), "hubs.json")
	c, err = loadCommandConfig(t, map[string]string{EnvAccessKey: cmdEnvKey, "OTHER": "x"},
		"--listen", ":0", "--endpoint", "https://wps.example.com", "--access-key", cmdFlagKey,
		"--access-key-file", "/does/not/matter", "--access-key-file", "/nor/this", "--settings-file", settingsFile,
		"--reload-interval", "5s", "--rate-limit", "7.5", "--rate-burst", "9",
		"--read-header-timeout", "3s", "--body-timeout", "4s", "--idle-timeout", "6s", "--max-unauthenticated", "12")
	if err != nil {
		t.Fatal(err)
	}
	want = CommandConfig{Listen: ":0", Endpoint: "https://wps.example.com", AccessKey: cmdFlagKey,
		AccessKeyFiles: []string{"/does/not/matter", "/nor/this"}, AccessKeyFromEnv: cmdEnvKey, SettingsFile: settingsFile,
		ReloadInterval: 5 * time.Second, RateLimit: 7.5, RateBurst: 9,
		ReadHeaderTimeout: 3 * time.Second, BodyTimeout: 4 * time.Second, IdleTimeout: 6 * time.Second, MaxUnauthenticated: 12}
	if diff := cmp.Diff(want, c, cmpopts.IgnoreUnexported(CommandConfig{}, NATSConfig{})); diff != "" {
		t.Errorf("with env and flags (-want +got):\n%s", diff)
	}
}

func TestCommandConfigAccessKey(t *testing.T) {
	t.Parallel()
	keyFile := writeKeyFile(t, "  "+cmdFileKey+"\n")
	emptyFile := writeKeyFile(t, " \n")
	badFile := writeKeyFile(t, "short\n")
	secondFile := writeKeyFile(t, cmdFileKey2+"\n")
	env := map[string]string{EnvAccessKey: cmdEnvKey}
	tests := map[string]struct {
		args     []string
		env      map[string]string
		want     []string
		wantShow bool
		// wantErr is in the error of Validate (or of LoadFiles with wantFileErr).
		wantErr     string
		wantFileErr bool
		// keysFine: Validate refuses something else, the keys resolve.
		keysFine bool
	}{
		"the flag wins and may be shown":              {args: []string{"--access-key", cmdFlagKey, "--access-key-file", keyFile}, env: env, want: []string{cmdFlagKey}, wantShow: true},
		"the flag wins even over a missing file":      {args: []string{"--access-key", cmdFlagKey, "--access-key-file", "/nope"}, want: []string{cmdFlagKey}, wantShow: true},
		"the file comes next, trimmed, never shown":   {args: []string{"--access-key-file", keyFile}, env: env, want: []string{cmdFileKey}},
		"an empty file falls back to the environment": {args: []string{"--access-key-file", emptyFile}, env: env, want: []string{cmdEnvKey}},
		"the environment comes last, never shown":     {env: env, want: []string{cmdEnvKey}},
		"a bad environment key is ignored under a flag": {
			args: []string{"--access-key", cmdFlagKey}, env: map[string]string{EnvAccessKey: "short"}, want: []string{cmdFlagKey}, wantShow: true,
		},
		"a second file gives the secondary key": {
			args: []string{"--access-key-file", keyFile, "--access-key-file", secondFile}, env: env, want: []string{cmdFileKey, cmdFileKey2},
		},
		"an empty second file gives no secondary key": {
			args: []string{"--access-key-file", keyFile, "--access-key-file", emptyFile}, want: []string{cmdFileKey},
		},
		"an empty first file takes the environment's key as the primary": {
			args: []string{"--access-key-file", emptyFile, "--access-key-file", secondFile}, env: env, want: []string{cmdEnvKey, cmdFileKey2},
		},
		"a short secondary key is refused": {
			args: []string{"--access-key-file", keyFile, "--access-key-file", badFile}, wantErr: "secondary key: access key is 5 characters long",
		},
		"a third key file is refused": {
			args: []string{"--access-key-file", keyFile, "--access-key-file", keyFile, "--access-key-file", keyFile}, wantErr: "at most 2",
		},
		"a negative reload interval is refused": {
			args: []string{"--access-key", cmdFlagKey, "--reload-interval", "-1s"}, wantErr: "must not be negative", keysFine: true,
		},
		"a negative rate limit is refused": {
			args: []string{"--access-key", cmdFlagKey, "--rate-limit", "-1"}, wantErr: "--rate-limit", keysFine: true,
		},
		"a rate limit that is not a number is refused": {
			args: []string{"--access-key", cmdFlagKey, "--rate-limit", "NaN"}, wantErr: "--rate-limit", keysFine: true,
		},
		"a negative rate burst is refused": {
			args: []string{"--access-key", cmdFlagKey, "--rate-burst", "-1"}, wantErr: "--rate-burst", keysFine: true,
		},
		"a negative body timeout is refused": {
			args: []string{"--access-key", cmdFlagKey, "--body-timeout", "-1s"}, wantErr: "--body-timeout", keysFine: true,
		},
		"a negative bound on unauthenticated connections is refused": {
			args: []string{"--access-key", cmdFlagKey, "--max-unauthenticated", "-1"}, wantErr: "--max-unauthenticated", keysFine: true,
		},
		"a short key is refused":                {args: []string{"--access-key", "short"}, wantErr: "at least 32"},
		"a key with a semicolon is refused":     {args: []string{"--access-key", "0123456789abcdefghijklmnopqrstuvwxyz;"}, wantErr: "';'"},
		"a short key in the file is refused":    {args: []string{"--access-key-file", badFile}, wantErr: "at least 32"},
		"a short key in the environment is too": {env: map[string]string{EnvAccessKey: "short-env"}, wantErr: "at least 32"},
		"an environment key with spaces is refused": {
			env: map[string]string{EnvAccessKey: " " + cmdEnvKey}, wantErr: "whitespace",
		},
		"a missing file is an error of its own": {args: []string{"--access-key-file", filepath.Join(t.TempDir(), "nope")}, wantErr: "access-key-file", wantFileErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := DefaultCommandConfig()
			c.LoadEnv(envOf(tc.env))
			fs := flag.NewFlagSet("pubsub", flag.ContinueOnError)
			c.BindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			fileErr := c.LoadFiles()
			if tc.wantFileErr {
				if fileErr == nil || !strings.Contains(fileErr.Error(), tc.wantErr) {
					t.Fatalf("LoadFiles: err %v, want %q", fileErr, tc.wantErr)
				}
				if _, _, err := c.ResolveAccessKeys(); err == nil {
					t.Fatal("ResolveAccessKeys succeeded without the key file")
				}
				return
			}
			if fileErr != nil {
				t.Fatalf("LoadFiles: %v", fileErr)
			}
			err := c.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate: err %v, want %q", err, tc.wantErr)
				}
				for _, secret := range []string{"short", "0123456789abcdefghijklmnopqrstuvwxyz", cmdEnvKey} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("the error %q shows the key", err)
					}
				}
				if _, _, err := c.ResolveAccessKeys(); (err == nil) != tc.keysFine {
					t.Fatalf("ResolveAccessKeys: %v, want an error only for bad keys", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got, show, err := c.ResolveAccessKeys()
			if err != nil || !slices.Equal(got, tc.want) || show != tc.wantShow {
				t.Fatalf("got %q (show %v), %v; want %q (show %v)", got, show, err, tc.want, tc.wantShow)
			}
		})
	}
	t.Run("the file is read when LoadFiles was skipped", func(t *testing.T) {
		t.Parallel()
		c := CommandConfig{AccessKeyFiles: []string{keyFile}, AccessKeyFromEnv: cmdEnvKey}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		got, show, err := c.ResolveAccessKeys()
		if err != nil || !slices.Equal(got, []string{cmdFileKey}) || show {
			t.Fatalf("got %q (show %v), %v; want the file's key, hidden", got, show, err)
		}
	})
	t.Run("no key anywhere generates one, shown", func(t *testing.T) {
		t.Parallel()
		c, err := loadCommandConfig(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys, show, err := c.ResolveAccessKeys()
		if err != nil || len(keys) != 1 {
			t.Fatalf("got %d keys, %v; want one generated key", len(keys), err)
		}
		again, _, _ := c.ResolveAccessKeys()
		a, b := keys[0], again[0]
		if ValidateAccessKey(a) != nil || a == b {
			t.Fatalf("generated keys %q and %q must be valid and random", a, b)
		}
		if !show {
			t.Fatal("a generated key must be printed: the user has no other way to learn it")
		}
	})
}

func TestCommandConfigEndpoint(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		flag, bound, want, wantErr string
	}{
		"defaults to the bound address": {"", "127.0.0.1:7070", "http://127.0.0.1:7070", ""},
		"an https endpoint is kept":     {"https://wps.example.com", "0.0.0.0:7070", "https://wps.example.com", ""},
		"a trailing slash is dropped":   {"http://svc:7070/", "x", "http://svc:7070", ""},
		"a path is refused":             {"http://svc/base", "x", "", "must not have a path"},
		"another scheme is refused":     {"ftp://svc", "x", "", "must be an http(s) URL with a host"},
		"no host is refused":            {"http://", "x", "", "must be an http(s) URL with a host"},
		"a query is refused":            {"http://svc?x=1", "x", "", "must not have a query or fragment"},
		"a fragment is refused":         {"http://svc#top", "x", "", "must not have a query or fragment"},
		"user info is refused":          {"http://user:pw@svc/base", "x", "", "must not have user info"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := CommandConfig{Endpoint: tc.flag, AccessKey: cmdFlagKey}
			verr := c.Validate()
			u, err := c.AdvertisedEndpoint(tc.bound)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("AdvertisedEndpoint: err %v, want %q", err, tc.wantErr)
				}
				if verr == nil || verr.Error() != err.Error() {
					t.Fatalf("Validate: err %v, want %v", verr, err)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Fatal("the error shows the password")
				}
				return
			}
			if verr != nil {
				t.Fatalf("Validate: %v", verr)
			}
			if err != nil || u.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", u, err, tc.want)
			}
		})
	}
}

func TestCommandConfigSettingsStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, []byte(`{"hubs":{"chat":{"eventHandlers":[{"urlTemplate":"http://127.0.0.1:1/eventhandler","userEventPattern":"*","systemEvents":["connected"]}]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"hubs":{"chat":{"eventHandlers":[{"urlTemplate":"ftp://x"}]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	c := CommandConfig{SettingsFile: good}
	store, err := c.SettingsStore()
	if err != nil {
		t.Fatal(err)
	}
	hs, ok := store.Get("chat")
	if !ok || len(hs.Properties.EventHandlers) != 1 || hs.Properties.EventHandlers[0].URLTemplate != "http://127.0.0.1:1/eventhandler" {
		t.Fatalf("the settings file was not loaded: %+v, %v", hs, ok)
	}

	c.SettingsFile = bad
	if _, err := c.SettingsStore(); err == nil || !strings.Contains(err.Error(), "loading hub settings") {
		t.Fatalf("err %v, want a hub settings error", err)
	}
	store, err = (&CommandConfig{}).SettingsStore()
	if err != nil || len(store.Hubs()) != 0 {
		t.Fatalf("without a file: %v, %v; want an empty store", store.Hubs(), err)
	}
}
