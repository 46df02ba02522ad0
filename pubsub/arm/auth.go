// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package arm

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/chathub/chathub/pubsub/auth"
)

// authenticate checks the bearer token of r with pubsub/auth (the same rules as the data
// plane): HS256 signed with an access key, not expired, and with an audience equal to the
// request URL without its query (scheme-insensitive; the host must be the request's or the
// advertised endpoint's). Error messages never contain the token.
func (h *handler) authenticate(r *http.Request) error {
	if r.Header.Get("Authorization") == "" {
		return errors.New("the request has no Authorization header; send 'Authorization: Bearer <token signed with an access key>'")
	}
	token := auth.BearerToken(r)
	if token == "" {
		return errors.New("the Authorization header is not a bearer token")
	}
	v := auth.Verifier{AccessKeys: h.cfg.AccessKeys, Endpoint: h.cfg.Endpoint, Now: h.cfg.Now}
	_, err := v.Verify(token, r, auth.RequestPaths(r)...)
	switch {
	case errors.Is(err, auth.ErrAudience):
		return fmt.Errorf("the token audience does not match the request URL %s", requestURL(r))
	case err != nil:
		return fmt.Errorf("the bearer token is not valid: %w", err)
	}
	return nil
}

// requestURL is r's URL without the query, for error messages.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}).String()
}
