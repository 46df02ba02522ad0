// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"net"
	"net/http"
	"strings"
)

// serveAbuseProtection answers the CloudEvents webhook validation request: the service sends
// OPTIONS with WebHook-Request-Origin (one host, or several comma-separated with custom
// domains) and expects WebHook-Allowed-Origin naming an allowed one.
func (h *EventHandler) serveAbuseProtection(w http.ResponseWriter, r *http.Request) {
	header := strings.Join(r.Header.Values(HeaderRequestOrigin), ",")
	if strings.TrimSpace(header) == "" {
		h.log.Info("Refused abuse protection request", "reason", "missing "+HeaderRequestOrigin, "remote", r.RemoteAddr)
		writeText(w, http.StatusBadRequest, "missing header "+HeaderRequestOrigin)
		return
	}
	if origin, ok := h.matchOrigin(header); ok {
		w.Header().Set(HeaderAllowedOrigin, origin)
		w.WriteHeader(http.StatusOK)
		h.log.Debug("Answered abuse protection request", "origin", cutForLog(origin))
		return
	}
	h.log.Warn("Refused abuse protection request", "origin", cutForLog(header), "remote", r.RemoteAddr)
	writeText(w, http.StatusBadRequest, "none of the hosts in "+HeaderRequestOrigin+" is an allowed origin of this event handler")
}

// matchOrigin returns the first comma-separated entry of header whose host is allowed, as sent.
func (h *EventHandler) matchOrigin(header string) (string, bool) {
	for entry := range strings.SplitSeq(header, ",") {
		entry = strings.TrimSpace(entry)
		host := normalizeOriginHost(entry)
		if host == "" {
			continue
		}
		if h.allowAll {
			return entry, true
		}
		for _, allowed := range h.origins {
			if host == allowed {
				return entry, true
			}
		}
	}
	return "", false
}

// normalizeOriginHost reduces an origin to its lower-case host: any scheme, path and port are
// dropped, so "https://Chat.Example.com:443/x" and "chat.example.com" compare equal.
func normalizeOriginHost(s string) string {
	s = strings.TrimSpace(s)
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	return strings.ToLower(strings.TrimSuffix(s, "."))
}
