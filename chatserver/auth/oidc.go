// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	pubsubauth "github.com/chathub/chathub/pubsub/auth"
)

// errNotDiscovered answers sign-ins while the provider is not discovered.
var errNotDiscovered = &Error{Status: http.StatusServiceUnavailable,
	Message: "the identity provider has not been reached yet; try again in a moment"}

// supportedAlgs are the signature algorithms accepted when the provider
// announces them (never "none", never HMAC: the client would know the key).
var supportedAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
}

// discovery is what the provider's discovery document told us.
type discovery struct {
	authorizationEndpoint string
	tokenEndpoint         string
	tokenOrigin           string
	verifier              *oidc.IDTokenVerifier
}

// oidcVerifier verifies bearer tokens against one OpenID Connect provider.
type oidcVerifier struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	state  atomic.Pointer[discovery]
}

func newOIDCVerifier(cfg Config, client *http.Client, log *slog.Logger, now func() time.Time) *oidcVerifier {
	return &oidcVerifier{cfg: cfg, client: client, log: log, now: now}
}

func (v *oidcVerifier) discovered() *discovery { return v.state.Load() }

// discoverUntilDone fetches the discovery document until it succeeds (1 s
// doubling to 30 s between attempts) or ctx ends.
func (v *oidcVerifier) discoverUntilDone(ctx context.Context) {
	delay := time.Second
	for attempt := 1; ; attempt++ {
		err := v.discover(ctx)
		if err == nil {
			v.log.Info("Discovered the OpenID Connect provider", "issuer", v.cfg.IssuerURL)
			return
		}
		v.log.Warn("Cannot discover the OpenID Connect provider; sign-ins are refused until it answers",
			"issuer", v.cfg.IssuerURL, "attempt", attempt, "retryIn", delay.String(), "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// discover reads the provider's discovery document (go-oidc checks that
// it names the configured issuer) and builds the token verifier.
func (v *oidcVerifier) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, v.client), 15*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, v.cfg.IssuerURL)
	if err != nil {
		return err
	}
	var doc struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&doc); err != nil {
		return fmt.Errorf("reading the discovery document: %w", err)
	}
	ep := p.Endpoint()
	for name, raw := range map[string]string{"jwks_uri": doc.JWKSURI, "authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL} {
		if err := checkEndpoint(raw); err != nil {
			return fmt.Errorf("the discovery document's %s %w", name, err)
		}
	}
	algs := slices.DeleteFunc(slices.Clone(doc.Algs), func(a string) bool { return !slices.Contains(supportedAlgs, a) })
	if len(doc.Algs) == 0 {
		algs = []string{oidc.RS256} // the default the specification gives
	}
	if len(algs) == 0 {
		return fmt.Errorf("the provider signs ID tokens only with algorithms this server does not accept (%s)", strings.Join(doc.Algs, ", "))
	}
	keys := newKeySet(doc.JWKSURI, v.client, v.log, v.now)
	tokenURL, _ := url.Parse(ep.TokenURL) // checked above
	v.state.Store(&discovery{
		authorizationEndpoint: ep.AuthURL,
		tokenEndpoint:         ep.TokenURL,
		tokenOrigin:           tokenURL.Scheme + "://" + tokenURL.Host,
		verifier: oidc.NewVerifier(v.cfg.IssuerURL, keys, &oidc.Config{
			ClientID:             v.cfg.audience(),
			SupportedSigningAlgs: algs,
			Now:                  v.now,
		}),
	})
	return nil
}

// checkEndpoint accepts an absolute http(s) URL.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("is not an absolute http(s) URL: %q", raw)
	}
	return nil
}

// identify verifies the request's bearer token and returns its user claim.
func (v *oidcVerifier) identify(r *http.Request) (string, error) {
	d := v.discovered()
	if d == nil {
		return "", errNotDiscovered
	}
	raw := pubsubauth.BearerToken(r)
	if raw == "" {
		return "", &Error{Status: http.StatusUnauthorized, Message: "sign in first: the request carries no bearer token",
			Challenge: `Bearer realm="chat"`}
	}
	tok, err := d.verifier.Verify(r.Context(), raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		msg := "the sign-in token is not valid; sign in again"
		if errors.As(err, &expired) {
			msg = "the sign-in token has expired; sign in again"
		}
		if errors.Is(err, errKeysUnavailable) {
			return "", &Error{Status: http.StatusServiceUnavailable, Message: "the identity provider's signing keys cannot be fetched; try again in a moment"}
		}
		v.log.Info("Refused a bearer token", "reason", err.Error())
		return "", &Error{Status: http.StatusUnauthorized, Message: msg,
			Challenge: `Bearer realm="chat", error="invalid_token"`}
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return "", &Error{Status: http.StatusUnauthorized, Message: "the sign-in token's claims cannot be read",
			Challenge: `Bearer realm="chat", error="invalid_token"`}
	}
	user, _ := claims[v.cfg.UserClaim].(string)
	if user == "" {
		v.log.Info("Refused a bearer token without the user claim", "claim", v.cfg.UserClaim, "subject", tok.Subject)
		return "", &Error{Status: http.StatusForbidden,
			Message: fmt.Sprintf("the sign-in token has no %q claim to name you by; ask the administrator", v.cfg.UserClaim)}
	}
	return user, nil
}
