// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/chathub/chathub/pubsub/auth"
	"github.com/chathub/chathub/webpubsub"
)

// bearerToken returns the token of an "Authorization: Bearer" header, or "".
func bearerToken(r *http.Request) string { return auth.BearerToken(r) }

// verifyToken checks signature and expiry, then that aud names this service and one of
// wantPaths (pubsub/auth, shared with the ARM-shaped API). Errors describe the problem
// without the token.
func (s *Server) verifyToken(token string, r *http.Request, wantPaths ...string) (*webpubsub.TokenClaims, error) {
	v := auth.Verifier{
		AccessKeys: s.accessKeys,
		Endpoint:   s.cfg.Endpoint,
		Now:        s.cfg.Now,
		Leeway:     DefaultTokenLeeway,
	}
	return v.Verify(token, r, wantPaths...)
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
func restPaths(r *http.Request) []string { return auth.RequestPaths(r) }

// clientPath returns the audience path of a client connection to hub.
func clientPath(hub string) []string {
	return []string{"/client/hubs/" + hub, "/client/hubs/" + url.PathEscape(hub)}
}
