// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenTTL is the lifetime of client and service tokens when none is given.
const DefaultTokenTTL = time.Hour

// ClientTokenOptions describes the client access token ClientAccessFor signs.
type ClientTokenOptions struct {
	// UserID becomes the sub claim; empty means an anonymous connection.
	UserID string
	// Roles become the role claim (e.g. RoleJoinLeaveGroup, RoleSendToGroup + ".room").
	Roles []string
	// Groups become the webpubsub.group claim: groups joined on connect.
	Groups []string
	// TTL is the token lifetime; 0 means DefaultTokenTTL.
	TTL time.Duration
}

// ClientAccess is what a WebSocket client needs to connect.
type ClientAccess struct {
	// URL is ws(s)://host[:port]/client/hubs/{hub}?access_token={Token}.
	URL string
	// Token is the client access JWT.
	Token string
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// ClientAccessFor signs a client access token for hub and builds the WebSocket URL
// ws(s)://host[:port]/client/hubs/{hub}?access_token=…. The token's aud is the http(s) form
// of the same URL without the query, as the SDKs sign it.
func ClientAccessFor(endpoint *url.URL, accessKey, hub string, opts ClientTokenOptions, now time.Time) (ClientAccess, error) {
	if endpoint == nil {
		return ClientAccess{}, errors.New("client access: endpoint is nil")
	}
	if accessKey == "" {
		return ClientAccess{}, errors.New("client access: access key is empty")
	}
	if err := ValidateHubName(hub); err != nil {
		return ClientAccess{}, fmt.Errorf("client access: %w", err)
	}
	if err := validateClaimValues(opts); err != nil {
		return ClientAccess{}, fmt.Errorf("client access: %w", err)
	}
	ttl := opts.TTL
	switch {
	case ttl == 0:
		ttl = DefaultTokenTTL
	case ttl < 0:
		return ClientAccess{}, fmt.Errorf("client access: TTL %s is negative", ttl)
	}
	var wsScheme string
	switch strings.ToLower(endpoint.Scheme) {
	case "https":
		wsScheme = "wss"
	case "http":
		wsScheme = "ws"
	default:
		return ClientAccess{}, fmt.Errorf("client access: endpoint scheme %q is not http or https", endpoint.Scheme)
	}
	if endpoint.Host == "" {
		return ClientAccess{}, errors.New("client access: endpoint has no host")
	}
	// The hub is validated, so it needs no escaping; the SDKs put it in verbatim too.
	path := "/client/hubs/" + hub
	aud := strings.ToLower(endpoint.Scheme) + "://" + endpoint.Host + path
	exp := now.Add(ttl).Truncate(time.Second)
	claims := jwt.MapClaims{"aud": aud, "exp": exp.Unix(), "iat": now.Unix()}
	if opts.UserID != "" {
		claims["sub"] = opts.UserID
	}
	if len(opts.Roles) > 0 {
		claims[ClaimRole] = opts.Roles
	}
	if len(opts.Groups) > 0 {
		claims[ClaimGroup] = opts.Groups
	}
	tok, err := signHS256(accessKey, claims)
	if err != nil {
		return ClientAccess{}, fmt.Errorf("client access: %w", err)
	}
	// A token the service would refuse (ParseToken's limit) is an error here, not at connect.
	if len(tok) > maxTokenLen {
		return ClientAccess{}, fmt.Errorf("client access: the token would be %d bytes long, the limit is %d: use fewer or shorter roles and groups", len(tok), maxTokenLen)
	}
	u := wsScheme + "://" + endpoint.Host + path + "?access_token=" + url.QueryEscape(tok)
	return ClientAccess{URL: u, Token: tok, ExpiresAt: exp}, nil
}

// ServiceToken signs an HS256 JWT with aud = audience and exp = now+ttl (0 means
// DefaultTokenTTL), as used for REST and ARM access-key auth.
func ServiceToken(accessKey, audience string, ttl time.Duration, now time.Time) (string, error) {
	if accessKey == "" {
		return "", errors.New("service token: access key is empty")
	}
	if audience == "" {
		return "", errors.New("service token: audience is empty")
	}
	switch {
	case ttl == 0:
		ttl = DefaultTokenTTL
	case ttl < 0:
		return "", fmt.Errorf("service token: TTL %s is negative", ttl)
	}
	// aud is a single string, as the SDKs send it (jwt's ClaimStrings would write an array).
	claims := jwt.MapClaims{"aud": audience, "exp": now.Add(ttl).Unix(), "iat": now.Unix()}
	tok, err := signHS256(accessKey, claims)
	if err != nil {
		return "", fmt.Errorf("service token: %w", err)
	}
	return tok, nil
}

// signHS256 signs claims; aud is written as a single string and role/webpubsub.group as
// arrays, the shapes the SDKs produce.
func signHS256(accessKey string, claims jwt.Claims) (string, error) {
	// The HMAC key is the UTF-8 bytes of the access key string, not its base64 decoding.
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(accessKey))
}

// validateClaimValues rejects values that would not survive the JSON claims intact.
func validateClaimValues(opts ClientTokenOptions) error {
	if !utf8.ValidString(opts.UserID) {
		return errors.New("user id is not valid UTF-8")
	}
	for _, r := range opts.Roles {
		if r == "" || !utf8.ValidString(r) {
			return fmt.Errorf("role %q is empty or not valid UTF-8", truncate(r, 64))
		}
	}
	for _, g := range opts.Groups {
		if err := ValidateGroupName(g); err != nil {
			return err
		}
	}
	return nil
}
