package arm

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// tokenLeeway is the clock skew allowed on the token expiry.
const tokenLeeway = 5 * time.Minute

// authenticate checks the bearer token of r: HS256 signed with an access key, not expired, and
// with an audience equal to the request URL without its query (scheme-insensitive; the host
// must be the request's or the advertised endpoint's).
func (h *handler) authenticate(r *http.Request) error {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return errors.New("the request has no Authorization header; send 'Authorization: Bearer <token signed with an access key>'")
	}
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("the Authorization header is not a bearer token")
	}
	claims, err := webpubsub.ParseToken(strings.TrimSpace(token), h.cfg.AccessKeys(), h.cfg.Now(), tokenLeeway)
	if err != nil {
		return fmt.Errorf("the bearer token is not valid: %v", err)
	}
	if !h.audienceMatches(claims.Audience, r) {
		return fmt.Errorf("the token audience %q does not match the request URL %s", clip(claims.Audience), requestURL(r))
	}
	return nil
}

// audienceMatches compares aud with the URL r was sent to, ignoring the scheme (http, https,
// ws, wss), default ports, the query and a trailing slash.
func (h *handler) audienceMatches(aud string, r *http.Request) bool {
	u, err := url.Parse(aud)
	if err != nil || u.Host == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ws", "wss":
	default:
		return false
	}
	host := normalizeHost(u.Host)
	hostOK := strings.EqualFold(host, normalizeHost(r.Host))
	if !hostOK && h.cfg.Endpoint != nil {
		hostOK = strings.EqualFold(host, normalizeHost(h.cfg.Endpoint.Host))
	}
	if !hostOK {
		return false
	}
	want := strings.TrimSuffix(r.URL.Path, "/")
	if strings.EqualFold(strings.TrimSuffix(u.Path, "/"), want) {
		return true
	}
	return strings.EqualFold(strings.TrimSuffix(u.EscapedPath(), "/"), strings.TrimSuffix(r.URL.EscapedPath(), "/"))
}

// normalizeHost drops the default ports 80 and 443.
func normalizeHost(h string) string {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		return h
	}
	if port == "80" || port == "443" {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return h
}

// requestURL is r's URL without the query, for error messages.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}).String()
}
