// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/chathub/chathub/chatserver/auth"
	"github.com/chathub/chathub/internal/testoidc"
)

// startAuthenticator makes an oidc authenticator for the provider and
// waits until it has discovered it.
func startAuthenticator(t *testing.T, p *testoidc.Provider) *auth.Authenticator {
	t.Helper()
	cfg := parse(t, "--auth", "oidc", "--oidc-issuer-url", p.M.Issuer(), "--oidc-client-id", p.M.ClientID)
	a, err := auth.New(cfg, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the provider was not discovered within 30 s")
	}
	return a
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestOIDCVerifiesTokens(t *testing.T) {
	p := testoidc.Start(t)
	p.FailDiscovery.Store(1) // the first discovery fails: Run retries
	a := startAuthenticator(t, p)
	kp := p.M.Keypair

	user, aerr := identify(t, a, "192.0.2.1:1", "?id=mallory", bearerHeader(p.Token(kp, nil)))
	if aerr != nil || user != "alice" {
		t.Fatalf("valid token: %q %v, want alice (?id= ignored)", user, aerr)
	}

	impostor := testoidc.NewKeypair(t)
	impostor.Kid = kp.Kid // same key id, another key: the signature must fail
	refused := map[string]string{
		"wrong issuer":    p.Token(kp, func(c jwt.MapClaims) { c["iss"] = "http://" + p.Addr() + "/other" }),
		"wrong audience":  p.Token(kp, func(c jwt.MapClaims) { c["aud"] = "another-client" }),
		"wrong signature": p.Token(impostor, nil),
		"expired":         p.Token(kp, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }),
		"not yet valid":   p.Token(kp, func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }),
		"unsigned":        unsigned(t, p),
		"garbage":         "not.a.token",
	}
	for name, tok := range refused {
		user, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(tok))
		if aerr == nil || aerr.Status != http.StatusUnauthorized || user != "" {
			t.Errorf("%s: %q %v, want 401", name, user, aerr)
			continue
		}
		if !strings.Contains(aerr.Challenge, "invalid_token") {
			t.Errorf("%s: WWW-Authenticate %q, want invalid_token", name, aerr.Challenge)
		}
		if strings.Contains(aerr.Message, tok) {
			t.Errorf("%s: the message repeats the token", name)
		}
	}
	if _, aerr := identify(t, a, "192.0.2.1:1", "?id=alice", nil); aerr == nil || aerr.Status != http.StatusUnauthorized || aerr.Challenge == "" {
		t.Errorf("no token: %v, want 401 with a challenge", aerr)
	}
	if _, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(p.Token(kp, func(c jwt.MapClaims) { delete(c, "preferred_username") }))); aerr == nil || aerr.Status != http.StatusForbidden {
		t.Errorf("no user claim: %v, want 403", aerr)
	}
	if got := identifyMessage(t, a, p.Token(kp, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })); !strings.Contains(got, "expired") {
		t.Errorf("expired token message %q, want it to say expired", got)
	}

	// The UI's sign-in settings come from the discovery document.
	cc, err := a.ClientConfig(nil)
	if err != nil || cc.ClientID != p.M.ClientID || cc.TokenEndpoint != p.M.TokenEndpoint() ||
		cc.AuthorizationEndpoint != p.M.AuthorizationEndpoint() || cc.Scope != auth.DefaultScopes {
		t.Errorf("ClientConfig: %+v %v", cc, err)
	}
	if got := a.ConnectOrigins(); len(got) != 1 || got[0] != "http://"+p.Addr() {
		t.Errorf("ConnectOrigins %v, want [http://%s]", got, p.Addr())
	}
}

func identifyMessage(t *testing.T, a *auth.Authenticator, tok string) string {
	t.Helper()
	_, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(tok))
	if aerr == nil {
		return ""
	}
	return aerr.Message
}

// unsigned is a token with alg "none" and otherwise valid claims.
func unsigned(t *testing.T, p *testoidc.Provider) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": p.M.Issuer(), "aud": p.M.ClientID, "preferred_username": "alice", "exp": time.Now().Add(time.Hour).Unix(),
	}) + "."
}

func TestOIDCFollowsKeyRotation(t *testing.T) {
	p := testoidc.Start(t)
	a := startAuthenticator(t, p)
	old := p.M.Keypair
	oldToken := p.Token(old, nil)
	if user, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(oldToken)); aerr != nil || user != "alice" {
		t.Fatalf("before the rotation: %q %v", user, aerr)
	}
	calls := p.JWKSCalls.Load()

	next := testoidc.NewKeypair(t)
	p.Rotate(next)
	user, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(p.Token(next, func(c jwt.MapClaims) { c["preferred_username"] = "bob" })))
	if aerr != nil || user != "bob" {
		t.Fatalf("a token signed with the new key: %q %v, want bob", user, aerr)
	}
	if got := p.JWKSCalls.Load() - calls; got != 1 {
		t.Errorf("the key set was fetched %d times for the new key, want once", got)
	}
	// The retired key is no longer published, so its tokens stop working.
	if _, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(oldToken)); aerr == nil || aerr.Status != http.StatusUnauthorized {
		t.Errorf("a token of the retired key: %v, want 401", aerr)
	}
}

func TestOIDCForgedKeyIDsDoNotFloodTheProvider(t *testing.T) {
	p := testoidc.Start(t)
	a := startAuthenticator(t, p)
	if _, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(p.Token(p.M.Keypair, nil))); aerr != nil {
		t.Fatal(aerr)
	}
	before := p.JWKSCalls.Load()
	for i := range 200 {
		kp := newKeypairFast(t, i)
		if _, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(p.Token(kp, nil))); aerr == nil || aerr.Status != http.StatusUnauthorized {
			t.Fatalf("forged token %d: %v, want 401", i, aerr)
		}
	}
	// At most the burst, plus what the refill rate allows while the loop ran.
	if got := p.JWKSCalls.Load() - before; got > 6 {
		t.Errorf("200 tokens naming unknown keys caused %d key set fetches, want at most 6", got)
	}
	// A forged token naming the real key id with a bad signature costs no fetch.
	before = p.JWKSCalls.Load()
	impostor := newKeypairFast(t, 0)
	impostor.Kid = p.M.Keypair.Kid
	for range 50 {
		if _, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader(p.Token(impostor, nil))); aerr == nil {
			t.Fatal("a forged signature was accepted")
		}
	}
	if got := p.JWKSCalls.Load() - before; got != 0 {
		t.Errorf("forged signatures under the known key id caused %d key set fetches, want 0", got)
	}
}

var fastKey *rsa.PrivateKey

// newKeypairFast reuses one RSA key under a new key id (generating 200
// keys would dominate the test's time).
func newKeypairFast(t *testing.T, i int) *mockoidc.Keypair {
	t.Helper()
	if fastKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		fastKey = k
	}
	return &mockoidc.Keypair{PrivateKey: fastKey, PublicKey: &fastKey.PublicKey, Kid: "forged-" + strings.Repeat("k", i%7) + string(rune('a'+i%26)) + time.Now().Format("150405.000000000")}
}

func TestOIDCBeforeDiscoveryIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens: discovery cannot succeed
	cfg := parse(t, "--auth", "oidc", "--oidc-issuer-url", "http://"+addr+"/oidc", "--oidc-client-id", "chat")
	a, err := auth.New(cfg, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, aerr := identify(t, a, "192.0.2.1:1", "", bearerHeader("x.y.z")); aerr == nil || aerr.Status != http.StatusServiceUnavailable {
		t.Errorf("before discovery: %v, want 503", aerr)
	}
	if _, err := a.ClientConfig(nil); err == nil {
		t.Error("ClientConfig before discovery: no error, want 503")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	a.Run(ctx) // retries until ctx ends, then returns
	if ctx.Err() == nil {
		t.Error("Run returned before its context ended although discovery kept failing")
	}
}
