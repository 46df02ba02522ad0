// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package testoidc runs a real OpenID Connect provider (oauth2-proxy's
// mockoidc) on 127.0.0.1 for tests: discovery, JWKS, authorization and
// token endpoints, key rotation, and the two things a browser sign-in
// needs that mockoidc leaves out (CORS and public clients with PKCE).
package testoidc

import (
	"crypto/rand"
	"crypto/rsa"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// Provider is a running provider.
type Provider struct {
	t *testing.T
	// M is the mockoidc server: its ClientID, ClientSecret, Issuer() and
	// QueueUser are what tests use.
	M    *mockoidc.MockOIDC
	addr string
	// JWKSCalls counts the requests for the key set.
	JWKSCalls atomic.Int64
	// FailDiscovery is how many discovery requests are still answered 503.
	FailDiscovery atomic.Int64
}

// Start runs a provider until the test ends.
func Start(t *testing.T) *Provider {
	t.Helper()
	m, err := mockoidc.NewServer(NewKeypair(t).PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Keypair.KeyID(); err != nil { // computed lazily by mockoidc: racy in handlers
		t.Fatal(err)
	}
	p := &Provider{t: t, M: m}
	if err := m.AddMiddleware(p.middleware); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.M.Shutdown() })
	return p
}

// Addr is the provider's host:port.
func (p *Provider) Addr() string { return p.addr }

// middleware counts key set requests, fails discovery on demand, answers
// CORS (a browser page exchanges its code at the token endpoint) and lets
// a public client redeem a code with its PKCE verifier instead of a
// secret, as providers do for single-page apps (mockoidc only knows
// confidential clients; it still checks the verifier against the
// challenge).
func (p *Provider) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, mockoidc.JWKSEndpoint):
			p.JWKSCalls.Add(1)
		case strings.HasSuffix(r.URL.Path, mockoidc.DiscoveryEndpoint) && p.FailDiscovery.Add(-1) >= 0:
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if strings.HasSuffix(r.URL.Path, mockoidc.TokenEndpoint) && r.Method == http.MethodPost {
			if err := r.ParseForm(); err == nil && r.PostForm.Get("client_secret") == "" && r.PostForm.Get("code_verifier") != "" {
				r.PostForm.Set("client_secret", p.M.ClientSecret)
				r.Form.Set("client_secret", p.M.ClientSecret)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// NewKeypair makes a 2048-bit RSA key pair with its key id computed.
func NewKeypair(t *testing.T) *mockoidc.Keypair {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := mockoidc.NewKeypair(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.KeyID(); err != nil {
		t.Fatal(err)
	}
	return kp
}

// Rotate makes the provider sign with kp and publish only kp's key, as a
// provider retiring its old key does: it stops, swaps the key and serves
// again on the same address.
func (p *Provider) Rotate(kp *mockoidc.Keypair) {
	p.t.Helper()
	if err := p.M.Shutdown(); err != nil {
		p.t.Fatal(err)
	}
	p.M.Server, p.M.Keypair = nil, kp
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("listening again on %s: %v", p.addr, err)
	}
	if err := p.M.Start(ln, nil); err != nil {
		p.t.Fatal(err)
	}
}

// Token signs claims with kp (nil: the provider's current key). The
// defaults are a valid ID token of the provider for its client naming
// alice; change edits them.
func (p *Provider) Token(kp *mockoidc.Keypair, change func(jwt.MapClaims)) string {
	p.t.Helper()
	if kp == nil {
		kp = p.M.Keypair
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": p.M.Issuer(), "aud": p.M.ClientID, "sub": "0001", "preferred_username": "alice",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	if change != nil {
		change(claims)
	}
	tok, err := kp.SignJWT(claims)
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

// User is a user the provider signs in at its next authorization request.
func User(name string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: name, Email: name + "@example.com", EmailVerified: true, PreferredUsername: name}
}
