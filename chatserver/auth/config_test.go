// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chathub/chathub/chatserver/auth"
)

// parse binds the flags on the defaults and parses args.
func parse(t *testing.T, args ...string) auth.Config {
	t.Helper()
	cfg := auth.DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return cfg
}

func TestConfigValidate(t *testing.T) {
	good := [][]string{
		nil,
		{"--auth", "anonymous"},
		{"--auth", "header", "--trusted-proxies", "127.0.0.1"},
		{"--auth", "header", "--trusted-proxies", "10.0.0.0/8, fd00::/8", "--auth-header", "X-Forwarded-User"},
		{"--auth", "oidc", "--oidc-issuer-url", "https://login.example.com/realms/chat", "--oidc-client-id", "chat"},
		{"--auth", "oidc", "--oidc-issuer-url", "http://127.0.0.1:5556/dex", "--oidc-client-id", "chat",
			"--oidc-user-claim", "email", "--oidc-scopes", "openid email", "--oidc-audience", "api://chat"},
	}
	for _, args := range good {
		cfg := parse(t, args...)
		if err := cfg.Validate(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--auth", "saml"}, "must be one of anonymous, header or oidc"},
		{[]string{"--auth", "header"}, "needs the addresses of the authenticating proxies (--trusted-proxies)"},
		{[]string{"--auth", "header", "--trusted-proxies", "0.0.0.0/0"}, "covers every address"},
		{[]string{"--auth", "header", "--trusted-proxies", "::/0"}, "covers every address"},
		{[]string{"--auth", "header", "--trusted-proxies", "proxy.local"}, `"proxy.local" is neither`},
		{[]string{"--auth", "header", "--trusted-proxies", "10.0.0.0/33"}, `"10.0.0.0/33" is neither`},
		{[]string{"--auth", "header", "--trusted-proxies", "127.0.0.1", "--auth-header", "X User"}, "must be a header name"},
		{[]string{"--trusted-proxies", "127.0.0.1"}, "need --auth header"},
		{[]string{"--auth-header", "X-User"}, "need --auth header"},
		{[]string{"--oidc-issuer-url", "https://idp"}, "need --auth oidc"},
		{[]string{"--auth", "header", "--trusted-proxies", "127.0.0.1", "--oidc-client-id", "x"}, "need --auth oidc"},
		{[]string{"--auth", "oidc", "--oidc-client-id", "chat"}, "needs the issuer URL"},
		{[]string{"--auth", "oidc", "--oidc-issuer-url", "http://idp.example.com", "--oidc-client-id", "chat"}, "must use https"},
		{[]string{"--auth", "oidc", "--oidc-issuer-url", "https://idp.example.com?x=1", "--oidc-client-id", "chat"}, "without query"},
		{[]string{"--auth", "oidc", "--oidc-issuer-url", "idp.example.com", "--oidc-client-id", "chat"}, "absolute URL"},
		{[]string{"--auth", "oidc", "--oidc-issuer-url", "https://idp.example.com"}, "--oidc-client-id"},
		{[]string{"--auth", "oidc", "--oidc-issuer-url", "https://idp.example.com", "--oidc-client-id", "c", "--oidc-scopes", "profile"}, "must include openid"},
		{[]string{"--auth", "oidc", "--oidc-issuer-url", "https://idp.example.com", "--oidc-client-id", "c", "--oidc-user-claim", ""}, "must not be empty"},
	}
	for _, tc := range bad {
		cfg := parse(t, tc.args...)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
		if _, nerr := auth.New(cfg, auth.Options{}); nerr == nil {
			t.Errorf("%v: New accepted a configuration Validate refuses", tc.args)
		}
	}
}

// identify runs Identify on a GET /negotiate from peer with the given
// header lines.
func identify(t *testing.T, a *auth.Authenticator, peer, query string, header http.Header) (string, *auth.Error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/negotiate"+query, nil)
	r.RemoteAddr = peer
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	user, err := a.Identify(r)
	if err == nil {
		return user, nil
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		t.Fatalf("Identify returned %T %v, want *auth.Error", err, err)
	}
	return user, ae
}

func TestAnonymousTakesTheQuery(t *testing.T) {
	a, err := auth.New(auth.DefaultConfig(), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if user, aerr := identify(t, a, "203.0.113.9:4000", "?id=alice", http.Header{auth.DefaultHeader: {"mallory"}}); aerr != nil || user != "alice" {
		t.Errorf("anonymous: %q %v, want alice (the header is not looked at)", user, aerr)
	}
	if _, aerr := identify(t, a, "203.0.113.9:4000", "", nil); aerr == nil || aerr.Status != http.StatusBadRequest {
		t.Errorf("anonymous without ?id=: %v, want 400", aerr)
	}
}

func TestHeaderModeBelievesOnlyTrustedProxies(t *testing.T) {
	cfg := parse(t, "--auth", "header", "--trusted-proxies", "127.0.0.1,10.1.0.0/16,fd00:1::/64", "--auth-header", "X-Forwarded-User")
	a, err := auth.New(cfg, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice := http.Header{"X-Forwarded-User": {"alice"}}
	for _, peer := range []string{"127.0.0.1:5000", "10.1.200.3:443", "[fd00:1::7]:80", "[::ffff:10.1.0.9]:80"} {
		if user, aerr := identify(t, a, peer, "?id=mallory", alice); aerr != nil || user != "alice" {
			t.Errorf("from %s: %q %v, want alice (?id= ignored)", peer, user, aerr)
		}
	}
	for _, peer := range []string{"127.0.0.2:5000", "10.2.0.1:80", "[fd00:2::1]:80", "[::1]:80", "not-an-address"} {
		user, aerr := identify(t, a, peer, "", alice)
		if aerr == nil || aerr.Status != http.StatusForbidden || user != "" {
			t.Errorf("from untrusted %s: %q %v, want 403", peer, user, aerr)
		}
	}
	for name, h := range map[string]http.Header{
		"no header":    nil,
		"empty header": {"X-Forwarded-User": {""}},
		"two headers":  {"X-Forwarded-User": {"alice", "mallory"}},
		"default name": {auth.DefaultHeader: {"alice"}},
	} {
		if user, aerr := identify(t, a, "127.0.0.1:1", "?id=alice", h); aerr == nil || aerr.Status != http.StatusUnauthorized {
			t.Errorf("%s: %q %v, want 401", name, user, aerr)
		}
	}
	// The UI learns who is signed in from the same rule.
	r := httptest.NewRequest(http.MethodGet, "/auth/config", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-User", "alice")
	if cc, err := a.ClientConfig(r); err != nil || cc.Mode != auth.ModeHeader || cc.User != "alice" || cc.Error != "" {
		t.Errorf("ClientConfig from the proxy: %+v %v", cc, err)
	}
	r.RemoteAddr = "192.0.2.1:1"
	if cc, err := a.ClientConfig(r); err != nil || cc.User != "" || !strings.Contains(cc.Error, "authenticating proxy") {
		t.Errorf("ClientConfig from elsewhere: %+v %v", cc, err)
	}
}
