package emulator

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/chathub/chathub/webpubsub"
)

// errNoToken reports a request without a token.
var errNoToken = errors.New("no access token: send Authorization: Bearer <token> or ?access_token=")

// bearerToken returns the token of an "Authorization: Bearer" header, or "".
func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// verifyToken checks signature and expiry, then that aud names this service and wantPath.
// Errors describe the problem without the token.
func (s *Server) verifyToken(token string, r *http.Request, wantPaths ...string) (*webpubsub.TokenClaims, error) {
	if token == "" {
		return nil, errNoToken
	}
	claims, err := webpubsub.ParseToken(token, s.cfg.AccessKeys, s.cfg.Now(), DefaultTokenLeeway)
	if err != nil {
		return nil, err
	}
	if !s.audienceMatches(claims.Audience, r.Host, wantPaths) {
		return nil, errors.New("token audience does not match the request URL")
	}
	return claims, nil
}

// audienceMatches compares a token audience with the request: any of http, https, ws and
// wss; the host of the endpoint or of the request; the path as sent or decoded once,
// without a trailing slash; the query ignored.
func (s *Server) audienceMatches(aud, requestHost string, wantPaths []string) bool {
	u, err := url.Parse(aud)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ws", "wss":
	default:
		return false
	}
	host := normalizeHost(u.Host)
	if host != normalizeHost(s.cfg.Endpoint.Host) && host != normalizeHost(requestHost) {
		return false
	}
	paths := []string{strings.TrimSuffix(u.EscapedPath(), "/"), strings.TrimSuffix(u.Path, "/")}
	for _, want := range wantPaths {
		want = strings.TrimSuffix(want, "/")
		for _, p := range paths {
			if strings.EqualFold(p, want) {
				return true
			}
		}
	}
	return false
}

// normalizeHost lowercases a host and drops the default ports 80 and 443.
func normalizeHost(h string) string {
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

// tokenClaimsMap returns every claim of a verified token in the connect event's shape
// (claim type → values).
func tokenClaimsMap(token string) map[string][]string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				out[k] = append(out[k], claimString(e))
			}
		default:
			out[k] = []string{claimString(x)}
		}
	}
	return out
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// restPaths returns the forms of the request path an audience may name.
func restPaths(r *http.Request) []string {
	return []string{r.URL.EscapedPath(), r.URL.Path}
}

// clientPath returns the audience path of a client connection to hub.
func clientPath(hub string) []string {
	return []string{"/client/hubs/" + hub, "/client/hubs/" + url.PathEscape(hub)}
}
