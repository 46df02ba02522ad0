// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/chathub/chathub/chatserver/auth"
	"github.com/chathub/chathub/webpubsub"
)

// negotiateResponse is the body of a successful /negotiate answer, the shape
// the tutorial's page expects.
type negotiateResponse struct {
	URL string `json:"url"`
	// User is the user id the token carries: the name the UI shows as
	// signed in (with --auth header or oidc it is not the page's choice).
	User string `json:"user"`
}

// validateUserID checks a user id from /negotiate. The messages are shown to
// the person choosing the name.
func validateUserID(id string) error {
	switch {
	case id == "":
		return errors.New("user id must not be empty")
	case !utf8.ValidString(id):
		return errors.New("user id must be valid UTF-8")
	case utf8.RuneCountInString(id) > MaxUserIDChars:
		return fmt.Errorf("user id must be at most %d characters", MaxUserIDChars)
	case strings.TrimSpace(id) == "":
		return errors.New("user id must not be only spaces")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return errors.New("user id must not contain control characters")
		}
		if isBidiControl(r) {
			// Shown to everyone in the chat, they would reorder the name (or the notice
			// around it) and let one user pass for another.
			return errors.New("user id must not contain text-direction control characters")
		}
	}
	return nil
}

// isBidiControl reports the Unicode bidirectional embedding, override and
// isolate controls (and the implicit marks), which change how text around
// them is displayed.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// serveNegotiate answers GET /negotiate?id=<user> with a client access URL
// for that user. The token carries the user id and no roles: the chat only
// needs the client to send events, which every connection may do.
func (s *Server) serveNegotiate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	id, err := s.auth.Identify(r)
	if err != nil {
		result := "refused"
		if ae := (*auth.Error)(nil); errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			result = "bad_request"
		}
		s.metrics.negotiations.WithLabelValues(result).Inc()
		writeAuthError(w, err)
		return
	}
	if err := validateUserID(id); err != nil {
		s.metrics.negotiations.WithLabelValues("bad_request").Inc()
		if s.auth.Mode() == auth.ModeAnonymous {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		// The name came from the proxy or the provider: the user cannot
		// change it here, the administrator can.
		s.log.Warn("Refused a signed-in user whose id cannot be a chat name", "mode", string(s.auth.Mode()), "reason", err.Error())
		httpError(w, http.StatusForbidden, "your user name from the sign-in cannot be used in the chat: "+err.Error())
		return
	}
	svc := s.creds.current()
	access, err := svc.client.ClientAccess(webpubsub.ClientTokenOptions{UserID: id, TTL: s.cfg.TokenTTL})
	if err != nil {
		s.metrics.negotiations.WithLabelValues("error").Inc()
		s.metrics.failures.WithLabelValues("negotiate").Inc()
		s.log.Error("Cannot issue a client access URL", "hub", s.cfg.Hub, "user", id, "error", err)
		httpError(w, http.StatusInternalServerError, "cannot issue a client access URL")
		return
	}
	u := access.URL
	// Proxied or embedded, /client/ is served on the chat's own port, so the
	// URL names the host the browser came to: a page opened on another
	// machine's address must not be sent to its own localhost.
	if s.cfg.ProxyClient || s.cfg.Embedded {
		if u, err = onRequestOrigin(access.URL, r); err != nil {
			s.metrics.negotiations.WithLabelValues("error").Inc()
			s.metrics.failures.WithLabelValues("negotiate").Inc()
			s.log.Error("Cannot build the client URL on the request's origin", "hub", s.cfg.Hub, "user", id)
			httpError(w, http.StatusInternalServerError, "cannot issue a client access URL")
			return
		}
	}
	s.metrics.negotiations.WithLabelValues("ok").Inc()
	s.log.Debug("Issued a client access URL", "hub", s.cfg.Hub, "user", id)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(negotiateResponse{URL: u, User: id})
}

// serveAuthConfig answers GET /auth/config: how the UI signs in (the
// mode, the user a trusted proxy named, or the OIDC client settings).
func (s *Server) serveAuthConfig(w http.ResponseWriter, r *http.Request) {
	cc, err := s.auth.ClientConfig(r)
	if err != nil {
		writeAuthError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(cc)
}

// writeAuthError answers a refused sign-in with its status, challenge and
// sentence.
func writeAuthError(w http.ResponseWriter, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		httpError(w, http.StatusInternalServerError, "cannot check who is signing in")
		return
	}
	if ae.Challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.Challenge)
	}
	httpError(w, ae.Status, ae.Message)
}

// onRequestOrigin moves a client access URL onto the origin the request
// came to: ws or wss and the host as the browser sees them, honouring
// X-Forwarded-Proto and X-Forwarded-Host from a reverse proxy. Path and
// query (the token) are kept; the proxy forwards them to the service.
func onRequestOrigin(accessURL string, r *http.Request) (string, error) {
	u, err := url.Parse(accessURL)
	if err != nil {
		return "", err
	}
	proto := firstForwarded(r.Header.Get("X-Forwarded-Proto"))
	if proto == "" {
		proto = "http"
		if r.TLS != nil {
			proto = "https"
		}
	}
	switch strings.ToLower(proto) {
	case "https", "wss":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	host := firstForwarded(r.Header.Get("X-Forwarded-Host"))
	if host == "" {
		host = r.Host
	}
	if host == "" || strings.ContainsAny(host, "/?#@ \\") {
		return "", errors.New("request has no usable host")
	}
	u.Host = host
	return u.String(), nil
}

// firstForwarded returns the first entry of a comma-separated forwarding
// header (the one the client-facing proxy wrote).
func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// httpError writes a plain-text error answer.
func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}
