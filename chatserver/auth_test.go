// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chathub/chathub/chatserver/auth"
	"github.com/chathub/chathub/internal/testoidc"
)

func TestNegotiateWithHeaderAuth(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	cfg := testConfig(rs.connectionString())
	cfg.Auth.Mode, cfg.Auth.Header, cfg.Auth.TrustedProxies = auth.ModeHeader, "X-Forwarded-User", "127.0.0.1"
	_, ts := startChat(t, cfg)

	// The proxy's header names the user; ?id= is ignored.
	resp, body := getNegotiate(t, ts.URL, "id=mallory", map[string]string{"X-Forwarded-User": "alice"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("negotiate through the proxy: %d %s", resp.StatusCode, body)
	}
	_, claims := parseAccessURL(t, body)
	if claims["sub"] != "alice" {
		t.Errorf("the token names %v, want alice", claims["sub"])
	}
	var nr negotiateResponse
	if err := json.Unmarshal([]byte(body), &nr); err != nil || nr.User != "alice" {
		t.Errorf("the answer names %q (%v), want alice", nr.User, err)
	}

	for name, tc := range map[string]struct {
		hdr    map[string]string
		status int
		says   string
	}{
		"no header":              {nil, http.StatusUnauthorized, "did not name a user"},
		"a name with a control":  {map[string]string{"X-Forwarded-User": "al\u0085ice"}, http.StatusForbidden, "control characters"},
		"a name of 65 chars":     {map[string]string{"X-Forwarded-User": strings.Repeat("a", 65)}, http.StatusForbidden, "at most 64"},
		"only the default name":  {map[string]string{auth.DefaultHeader: "alice"}, http.StatusUnauthorized, "X-Forwarded-User"},
		"a right-to-left marker": {map[string]string{"X-Forwarded-User": "ali\u202Ece"}, http.StatusForbidden, "text-direction"},
	} {
		resp, body := getNegotiate(t, ts.URL, "id=alice", tc.hdr)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", name, resp.StatusCode, body, tc.status, tc.says)
		}
	}

	// From an address that is not a trusted proxy the header means nothing.
	cfg.Auth.TrustedProxies = "10.0.0.0/8"
	_, elsewhere := startChat(t, cfg)
	resp, body = getNegotiate(t, elsewhere.URL, "id=alice", map[string]string{"X-Forwarded-User": "alice"})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "authenticating proxy") {
		t.Errorf("from an untrusted peer: %d %q, want 403", resp.StatusCode, body)
	}
}

func TestNegotiateWithOIDC(t *testing.T) {
	t.Parallel()
	p := testoidc.Start(t)
	rs := newRecordingService(t)
	cfg := testConfig(rs.connectionString())
	cfg.Auth.Mode, cfg.Auth.IssuerURL, cfg.Auth.ClientID = auth.ModeOIDC, p.M.Issuer(), p.M.ClientID
	srv, ts := startChat(t, cfg)
	go srv.Watch(t.Context())
	waitForDiscovery(t, ts.URL)

	resp, body := getNegotiate(t, ts.URL, "id=mallory", map[string]string{"Authorization": "Bearer " + p.Token(nil, nil)})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("negotiate with a valid token: %d %s", resp.StatusCode, body)
	}
	if _, claims := parseAccessURL(t, body); claims["sub"] != "alice" {
		t.Errorf("the token names %v, want alice (the claim, not ?id=)", claims["sub"])
	}
	expired := p.Token(nil, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
	for name, hdr := range map[string]map[string]string{
		"no token":      nil,
		"expired token": {"Authorization": "Bearer " + expired},
		"basic auth":    {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
	} {
		resp, body := getNegotiate(t, ts.URL, "id=alice", hdr)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q (WWW-Authenticate %q), want 401 with a Bearer challenge", name, resp.StatusCode, body, resp.Header.Get("WWW-Authenticate"))
		}
	}

	// The page may fetch from the provider's token endpoint, and nowhere else.
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' http://"+p.Addr()+" ws: wss:;") {
		t.Errorf("Content-Security-Policy %q does not allow the token endpoint's origin", csp)
	}
}

// waitForDiscovery polls /auth/config until the provider is discovered.
func waitForDiscovery(t *testing.T, base string) auth.ClientConfig {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/auth/config")
		if err != nil {
			t.Fatal(err)
		}
		var cc auth.ClientConfig
		err = json.NewDecoder(resp.Body).Decode(&cc)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK && err == nil {
			return cc
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("/auth/config: HTTP %d, %v", resp.StatusCode, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
