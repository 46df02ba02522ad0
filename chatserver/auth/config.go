// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package auth decides who is speaking in the chat: the user id that
// /negotiate puts into a client access token. It has three modes:
//
//   - anonymous: the browser names itself with ?id=, as in the Azure Web
//     PubSub chat tutorial. Anyone who can open the page can speak as anyone.
//   - header: an authenticating proxy in front of the chat (oauth2-proxy,
//     an ingress with external authentication) names the user in a request
//     header. The header is believed only when the request's TCP peer is in
//     one of the configured trusted proxy ranges; ?id= is ignored.
//   - oidc: the browser signs in with an OpenID Connect provider and sends
//     its ID token as a bearer token. The token's signature (keys from the
//     provider's JWKS, rotation followed), issuer, audience and expiry are
//     verified; the user id is one of its claims; ?id= is ignored.
package auth

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mode is how the chat server learns who is speaking.
type Mode string

// The modes; see the package documentation.
const (
	ModeAnonymous Mode = "anonymous"
	ModeHeader    Mode = "header"
	ModeOIDC      Mode = "oidc"
)

// Modes lists every mode, in the order the documentation gives them.
var Modes = []Mode{ModeAnonymous, ModeHeader, ModeOIDC}

// Defaults of the header and OIDC settings.
const (
	// DefaultHeader is the header oauth2-proxy sets in its auth_request
	// mode (and ingress-nginx forwards with auth-response-headers). In its
	// reverse-proxy mode oauth2-proxy sets X-Forwarded-User instead.
	DefaultHeader = "X-Auth-Request-User"
	// DefaultUserClaim is the ID token claim that names the user.
	DefaultUserClaim = "preferred_username"
	// DefaultScopes are the scopes the UI asks the provider for.
	DefaultScopes = "openid profile"
)

// Config is the sign-in configuration of the chat server.
type Config struct {
	// Mode is the sign-in mode.
	Mode Mode
	// Header is the request header that names the user in header mode.
	Header string
	// TrustedProxies is a comma-separated list of addresses or CIDR ranges
	// whose requests may name the user with Header (header mode).
	TrustedProxies string
	// IssuerURL is the OpenID Connect issuer (oidc mode); its discovery
	// document is IssuerURL + "/.well-known/openid-configuration".
	IssuerURL string
	// ClientID is the client the UI signs in as (a public client using
	// the authorization-code flow with PKCE).
	ClientID string
	// Audience is the audience a token must carry; empty means ClientID,
	// which is the audience of the provider's ID tokens.
	Audience string
	// UserClaim is the token claim whose value is the user id.
	UserClaim string
	// Scopes is the space-separated scope list the UI asks for.
	Scopes string
}

// DefaultConfig is anonymous sign-in with the header and OIDC defaults
// filled in for when another mode is chosen.
func DefaultConfig() Config {
	return Config{Mode: ModeAnonymous, Header: DefaultHeader, UserClaim: DefaultUserClaim, Scopes: DefaultScopes}
}

// BindFlags registers the sign-in flags on fs, with c's values as
// defaults.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar((*string)(&c.Mode), "auth", string(c.Mode),
		"how the chat learns who is speaking: anonymous (?id=, as in the tutorial), header (named by a trusted authenticating proxy) or oidc (a bearer token from an OpenID Connect provider)")
	fs.StringVar(&c.Header, "auth-header", c.Header, "with --auth header: the request header naming the user")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies,
		"with --auth header: comma-separated addresses or CIDR ranges of the authenticating proxies (the only peers whose header is believed)")
	fs.StringVar(&c.IssuerURL, "oidc-issuer-url", c.IssuerURL, "with --auth oidc: the OpenID Connect issuer URL")
	fs.StringVar(&c.ClientID, "oidc-client-id", c.ClientID, "with --auth oidc: the public client the UI signs in as")
	fs.StringVar(&c.Audience, "oidc-audience", c.Audience, "with --auth oidc: the audience tokens must carry (default: the client id)")
	fs.StringVar(&c.UserClaim, "oidc-user-claim", c.UserClaim, "with --auth oidc: the token claim naming the user")
	fs.StringVar(&c.Scopes, "oidc-scopes", c.Scopes, "with --auth oidc: the space-separated scopes the UI asks for (must include openid)")
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,127}$`)

// Validate reports the first problem with c as one sentence naming the
// flag. Settings of a mode that is not chosen are refused, so that a
// forgotten --auth does not silently leave the chat anonymous.
func (c *Config) Validate() error {
	def := DefaultConfig()
	switch c.Mode {
	case ModeAnonymous, ModeHeader, ModeOIDC:
	default:
		return fmt.Errorf("the sign-in mode (--auth) must be one of anonymous, header or oidc, not %q", c.Mode)
	}
	if c.Mode != ModeHeader && (c.TrustedProxies != "" || c.Header != def.Header) {
		return fmt.Errorf("--auth-header and --trusted-proxies need --auth header (the mode is %s)", c.Mode)
	}
	if c.Mode != ModeOIDC && (c.IssuerURL != "" || c.ClientID != "" || c.Audience != "" ||
		c.UserClaim != def.UserClaim || c.Scopes != def.Scopes) {
		return fmt.Errorf("the --oidc-* flags need --auth oidc (the mode is %s)", c.Mode)
	}
	switch c.Mode {
	case ModeHeader:
		if !headerName.MatchString(c.Header) {
			return fmt.Errorf("the user header (--auth-header) must be a header name of letters, digits and dashes, not %q", c.Header)
		}
		if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
			return err
		}
	case ModeOIDC:
		if err := validateIssuer(c.IssuerURL); err != nil {
			return err
		}
		if strings.TrimSpace(c.ClientID) == "" {
			return errors.New("--auth oidc needs the client id of the UI (--oidc-client-id)")
		}
		if strings.TrimSpace(c.UserClaim) == "" {
			return errors.New("the user claim (--oidc-user-claim) must not be empty")
		}
		if !slices.Contains(strings.Fields(c.Scopes), "openid") {
			return fmt.Errorf("the scopes (--oidc-scopes) must include openid, not %q", c.Scopes)
		}
	}
	return nil
}

// audience is the audience tokens must carry.
func (c *Config) audience() string {
	if c.Audience != "" {
		return c.Audience
	}
	return c.ClientID
}

// validateIssuer accepts an absolute https URL without query or fragment;
// plain http only on a loopback host, for development and tests.
func validateIssuer(raw string) error {
	if raw == "" {
		return errors.New("--auth oidc needs the issuer URL (--oidc-issuer-url)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("the issuer URL (--oidc-issuer-url) must be an absolute URL without query, fragment or credentials, not %q", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("the issuer URL (--oidc-issuer-url) must use https (plain http only on localhost), not %q", raw)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR
// ranges. An empty list and a range that covers every address are refused:
// either would let anyone name themselves.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(item, "/") {
			var err error
			if p, err = netip.ParsePrefix(item); err != nil {
				return nil, fmt.Errorf("the trusted proxies (--trusted-proxies) must be addresses or CIDR ranges: %q is neither", item)
			}
		} else {
			a, err := netip.ParseAddr(item)
			if err != nil {
				return nil, fmt.Errorf("the trusted proxies (--trusted-proxies) must be addresses or CIDR ranges: %q is neither", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("the trusted proxy range %s covers every address: anyone could name themselves; list the proxies' addresses", item)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, errors.New("--auth header needs the addresses of the authenticating proxies (--trusted-proxies), e.g. 127.0.0.1 for a sidecar")
	}
	return out, nil
}
