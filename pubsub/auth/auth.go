// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package auth checks the access-key bearer tokens the PubSub service accepts on its
// client, REST and ARM-shaped endpoints: an HS256 JWT signed with one of the access keys, with
// an expiry, whose audience names the URL the request was sent to. The server package and
// pubsub/arm both use it, so a token is judged the same way everywhere.
package auth

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// DefaultLeeway is the clock skew allowed on a token's expiry.
const DefaultLeeway = 5 * time.Minute

// ErrNoToken reports a request that carries no token.
var ErrNoToken = errors.New("no access token: send 'Authorization: Bearer <token>' or ?access_token=")

// ErrAudience reports a valid token whose audience names another URL.
var ErrAudience = errors.New("the token audience does not match the request URL")

// BearerToken returns the token of r's "Authorization: Bearer" header, or "" when there is none.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// Verifier checks tokens against the current access keys and the hosts this service answers to.
type Verifier struct {
	// AccessKeys returns the keys a token may be signed with.
	AccessKeys func() []string
	// Endpoint is the advertised endpoint; its host is accepted in audiences besides the
	// request's own Host. Nil means only the request's Host.
	Endpoint *url.URL
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on the expiry; 0 means DefaultLeeway.
	Leeway time.Duration
}

// Verify checks token's signature (HS256 only), its expiry (required) and that its audience
// names r's host or the endpoint's host and one of paths. Errors describe the problem and never
// contain the token.
func (v *Verifier) Verify(token string, r *http.Request, paths ...string) (*webpubsub.TokenClaims, error) {
	if token == "" {
		return nil, ErrNoToken
	}
	now, leeway := time.Now, v.Leeway
	if v.Now != nil {
		now = v.Now
	}
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	var keys []string
	if v.AccessKeys != nil {
		keys = v.AccessKeys()
	}
	claims, err := webpubsub.ParseToken(token, keys, now(), leeway)
	if err != nil {
		return nil, err
	}
	hosts := []string{r.Host}
	if v.Endpoint != nil {
		hosts = append(hosts, v.Endpoint.Host)
	}
	if !AudienceMatches(claims.Audience, hosts, paths) {
		return nil, ErrAudience
	}
	return claims, nil
}

// AudienceMatches reports whether the token audience aud names one of hosts and one of paths:
// any of the schemes http, https, ws and wss; hosts compared without case and without the
// default ports 80 and 443; the path as sent or decoded once, without case and without a
// trailing slash; the query ignored. An audience with user info never matches.
func AudienceMatches(aud string, hosts, paths []string) bool {
	u, err := url.Parse(aud)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ws", "wss":
	default:
		return false
	}
	host := NormalizeHost(u.Host)
	hostOK := false
	for _, h := range hosts {
		if h != "" && host == NormalizeHost(h) {
			hostOK = true
			break
		}
	}
	if !hostOK {
		return false
	}
	got := []string{strings.TrimSuffix(u.EscapedPath(), "/"), strings.TrimSuffix(u.Path, "/")}
	for _, want := range paths {
		want = strings.TrimSuffix(want, "/")
		for _, p := range got {
			if strings.EqualFold(p, want) {
				return true
			}
		}
	}
	return false
}

// NormalizeHost lowercases a host[:port] and drops the default ports 80 and 443.
func NormalizeHost(h string) string {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, ""
	}
	if port == "80" || port == "443" {
		port = ""
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if port == "" {
		return host
	}
	return net.JoinHostPort(host, port)
}

// RequestPaths returns the forms of r's path (as sent and decoded) an audience may name.
func RequestPaths(r *http.Request) []string {
	return []string{r.URL.EscapedPath(), r.URL.Path}
}
