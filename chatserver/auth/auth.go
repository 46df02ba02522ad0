// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package auth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Error is a refused sign-in: the HTTP status and a sentence for the
// person signing in. It never contains a token.
type Error struct {
	// Status is the HTTP status to answer with.
	Status int
	// Message is shown to the user.
	Message string
	// Challenge, when set, is the WWW-Authenticate header of a 401.
	Challenge string
}

func (e *Error) Error() string { return e.Message }

// Options carries the authenticator's collaborators; the zero value is
// usable.
type Options struct {
	// HTTPClient fetches the provider's discovery document and keys; nil
	// uses a client with a 10 s timeout and no proxy from the environment.
	HTTPClient *http.Client
	// Logger receives the reasons of refusals; nil discards them.
	Logger *slog.Logger
	// Now is the clock tokens are checked against; nil uses time.Now.
	Now func() time.Time
}

// Authenticator identifies the user of a request in the configured mode.
type Authenticator struct {
	cfg     Config
	log     *slog.Logger
	trusted []netip.Prefix
	oidc    *oidcVerifier
}

// New validates cfg and builds its authenticator. In oidc mode nothing is
// fetched yet: Run discovers the provider.
func New(cfg Config, opts Options) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Authenticator{cfg: cfg, log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	}
	switch cfg.Mode {
	case ModeHeader:
		a.trusted, _ = ParseTrustedProxies(cfg.TrustedProxies) // validated above
	case ModeOIDC:
		a.oidc = newOIDCVerifier(cfg, opts.HTTPClient, a.log, opts.Now)
	}
	return a, nil
}

// Mode is the configured sign-in mode.
func (a *Authenticator) Mode() Mode { return a.cfg.Mode }

// Run discovers the OpenID Connect provider, retrying with backoff until it
// succeeds or ctx ends; until then oidc sign-ins are answered 503. It
// returns at once in the other modes.
func (a *Authenticator) Run(ctx context.Context) {
	if a.oidc != nil {
		a.oidc.discoverUntilDone(ctx)
	}
}

// Identify returns the user id of r: its ?id= (anonymous), the trusted
// proxy's header (header) or the verified bearer token's claim (oidc). A
// refusal is an *Error. The id is not validated as a chat name here.
func (a *Authenticator) Identify(r *http.Request) (string, error) {
	switch a.cfg.Mode {
	case ModeHeader:
		return a.fromHeader(r)
	case ModeOIDC:
		return a.oidc.identify(r)
	default:
		ids, ok := r.URL.Query()["id"]
		if !ok || len(ids) == 0 {
			return "", &Error{Status: http.StatusBadRequest, Message: "missing user id"}
		}
		return ids[0], nil
	}
}

// fromHeader reads the user from the configured header of a request whose
// TCP peer is a trusted proxy.
func (a *Authenticator) fromHeader(r *http.Request) (string, error) {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !a.isTrusted(peer.Addr().Unmap()) {
		a.log.Warn("Refused a sign-in that did not come through a trusted proxy", "peer", r.RemoteAddr)
		return "", &Error{Status: http.StatusForbidden,
			Message: "this chat accepts sign-ins only through its authenticating proxy"}
	}
	values := r.Header.Values(a.cfg.Header)
	switch {
	case len(values) == 0 || values[0] == "":
		return "", &Error{Status: http.StatusUnauthorized,
			Message: fmt.Sprintf("the authenticating proxy did not name a user (no %s header)", a.cfg.Header)}
	case len(values) > 1:
		return "", &Error{Status: http.StatusUnauthorized,
			Message: fmt.Sprintf("the request names more than one user (%d %s headers)", len(values), a.cfg.Header)}
	}
	return values[0], nil
}

func (a *Authenticator) isTrusted(addr netip.Addr) bool {
	for _, p := range a.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ClientConfig is what the bundled UI needs to sign in (GET /auth/config).
type ClientConfig struct {
	// Mode is the sign-in mode.
	Mode Mode `json:"mode"`
	// User is the signed-in user in header mode.
	User string `json:"user,omitempty"`
	// Error says why the user is not known in header mode.
	Error string `json:"error,omitempty"`
	// ClientID, Scope, AuthorizationEndpoint and TokenEndpoint drive the
	// UI's authorization-code flow with PKCE in oidc mode.
	ClientID              string `json:"clientId,omitempty"`
	Scope                 string `json:"scope,omitempty"`
	AuthorizationEndpoint string `json:"authorizationEndpoint,omitempty"`
	TokenEndpoint         string `json:"tokenEndpoint,omitempty"`
}

// ClientConfig describes sign-in to the UI that sent r. In oidc mode it
// is an *Error (503) until the provider has been discovered.
func (a *Authenticator) ClientConfig(r *http.Request) (ClientConfig, error) {
	cc := ClientConfig{Mode: a.cfg.Mode}
	switch a.cfg.Mode {
	case ModeHeader:
		user, err := a.fromHeader(r)
		if err != nil {
			cc.Error = err.Error()
		}
		cc.User = user
	case ModeOIDC:
		d := a.oidc.discovered()
		if d == nil {
			return cc, errNotDiscovered
		}
		cc.ClientID, cc.Scope = a.cfg.ClientID, a.cfg.Scopes
		cc.AuthorizationEndpoint, cc.TokenEndpoint = d.authorizationEndpoint, d.tokenEndpoint
	}
	return cc, nil
}

// ConnectOrigins are the origins the UI must be allowed to fetch from
// besides its own (the provider's token endpoint in oidc mode), for the
// page's Content-Security-Policy.
func (a *Authenticator) ConnectOrigins() []string {
	if a.oidc == nil {
		return nil
	}
	if d := a.oidc.discovered(); d != nil && d.tokenOrigin != "" {
		return []string{d.tokenOrigin}
	}
	return nil
}
