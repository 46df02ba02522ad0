// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
)

// clientProxy forwards /client/... (the client WebSocket, token in the
// query) to the current service endpoint and nowhere else: the target is
// always the connection string's endpoint, whatever the request says.
// httputil.ReverseProxy handles the upgrade, drops hop-by-hop headers and
// copies frames both ways.
func (s *Server) clientProxy() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			ep := s.creds.current().conn.Endpoint
			pr.SetURL(ep)
			pr.Out.Host = ep.Host
			// The browser's Origin is the chat server's page, which the
			// service has no reason to know; it is not forwarded. Nor are
			// the page's cookies: they are the chat server's (or another
			// app's on the same host), never the service's business.
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("Cookie")
		},
		Transport: s.proxyTransport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.metrics.failures.WithLabelValues("proxy").Inc()
			// Only the network operation is logged: the URL carries the token.
			s.log.Warn("Cannot reach the Web PubSub service for a client", "hub", s.cfg.Hub, "error", netOp(err))
			httpError(w, http.StatusBadGateway, "the Web PubSub service is not reachable")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/client/") {
			http.NotFound(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	})
}

// netOp describes a proxy error without any URL in it.
func netOp(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op + ": " + op.Err.Error()
	}
	if errors.Is(err, http.ErrAbortHandler) {
		return "aborted"
	}
	return "request failed"
}
