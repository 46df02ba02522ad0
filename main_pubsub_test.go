package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chathub/chathub/pubsub"
)

func TestPubSubAccessKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("  file-key-0123456789abcdefghijklmnopqrstuv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		cfg      pubSubConfig
		env      string
		want     string
		wantShow bool
		wantErr  string
	}{
		"the flag wins and may be shown":            {cfg: pubSubConfig{accessKey: "flag-key-0123456789abcdefghijklmnopqrstuv", accessKeyFile: keyFile}, env: "env-key-0123456789abcdefghijklmnopqrstuvw", want: "flag-key-0123456789abcdefghijklmnopqrstuv", wantShow: true},
		"the file comes next, trimmed, never shown": {cfg: pubSubConfig{accessKeyFile: keyFile}, env: "env-key-0123456789abcdefghijklmnopqrstuvw", want: "file-key-0123456789abcdefghijklmnopqrstuv"},
		"the environment comes last, never shown":   {env: "env-key-0123456789abcdefghijklmnopqrstuvw", want: "env-key-0123456789abcdefghijklmnopqrstuvw"},
		"a short key is refused":                    {cfg: pubSubConfig{accessKey: "short"}, wantErr: "at least 32"},
		"a key with a semicolon is refused":         {cfg: pubSubConfig{accessKey: "0123456789abcdefghijklmnopqrstuvwxyz;"}, wantErr: "';'"},
		"a missing file is an error":                {cfg: pubSubConfig{accessKeyFile: filepath.Join(dir, "nope")}, wantErr: "access-key-file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv(envAccessKey, tc.env)
			got, show, err := tc.cfg.resolveAccessKey()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tc.cfg.accessKey) && tc.cfg.accessKey != "" {
					t.Fatal("the error shows the key")
				}
				return
			}
			if err != nil || got != tc.want || show != tc.wantShow {
				t.Fatalf("got %q (show %v), %v; want %q (show %v)", got, show, err, tc.want, tc.wantShow)
			}
		})
	}
	t.Run("no key anywhere generates one", func(t *testing.T) {
		t.Setenv(envAccessKey, "")
		c := pubSubConfig{}
		a, show, err := c.resolveAccessKey()
		if err != nil {
			t.Fatal(err)
		}
		b, _, _ := c.resolveAccessKey()
		if pubsub.ValidateAccessKey(a) != nil || a == b {
			t.Fatalf("generated keys %q and %q must be valid and random", a, b)
		}
		if !show {
			t.Fatal("a generated key must be printed: the user has no other way to learn it")
		}
	})
}

func TestPubSubPrintedConnectionString(t *testing.T) {
	const key = "secret-key-0123456789abcdefghijklmnopq"
	full := "Endpoint=http://127.0.0.1:7070;AccessKey=" + key + ";Version=1.0;"
	if got := printedConnectionString(full, true); got != full {
		t.Fatalf("shown: got %q, want the full connection string", got)
	}
	got := printedConnectionString(full, false)
	if strings.Contains(got, key) || !strings.Contains(got, "Endpoint=http://127.0.0.1:7070") || !strings.Contains(got, "AccessKey=***") {
		t.Fatalf("hidden: got %q, want the endpoint with the key redacted", got)
	}
}

func TestPubSubEndpoint(t *testing.T) {
	tests := map[string]struct {
		flag, bound, want, wantErr string
	}{
		"defaults to the bound address": {"", "127.0.0.1:7070", "http://127.0.0.1:7070", ""},
		"an https endpoint is kept":     {"https://wps.example.com", "0.0.0.0:7070", "https://wps.example.com", ""},
		"a trailing slash is dropped":   {"http://svc:7070/", "x", "http://svc:7070", ""},
		"a path is refused":             {"http://svc/base", "x", "", "path"},
		"another scheme is refused":     {"ftp://svc", "x", "", "http(s)"},
		"a query is refused":            {"http://svc?x=1", "x", "", "query"},
		"a fragment is refused":         {"http://svc#top", "x", "", "query"},
		"user info is refused":          {"http://user:pw@svc/base", "x", "", "user info"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			u, err := advertisedEndpoint(tc.flag, tc.bound)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || u.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", u, err, tc.want)
			}
		})
	}
}

func TestPubSubRejectsBadFlags(t *testing.T) {
	tests := map[string][]string{
		"an unknown flag":  {"--nope"},
		"a bad log level":  {"--log-level", "loud"},
		"a stray argument": {"extra"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			if err := runPubSub(t.Context(), args); !errors.Is(err, errUsage) {
				t.Fatalf("got %v, want a usage error", err)
			}
		})
	}
}
