// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// pendingConns bounds the connections that are waiting for a complete
// request: new ones, and keep-alive ones between requests. They cost a
// descriptor each and prove nothing yet, so when there are more than max the
// oldest is closed. A slowloris therefore holds at most max descriptors and
// keeps losing its oldest connections, while a client that sends its request
// at once (a health check) is served before its turn to be closed comes.
type pendingConns struct {
	max     int
	onClose func() // counts a closed connection; may be nil

	mu    sync.Mutex
	order *list.List                 // of net.Conn, oldest first
	elems map[net.Conn]*list.Element // the conns in order
}

func newPendingConns(limit int, onClose func()) *pendingConns {
	return &pendingConns{max: limit, onClose: onClose, order: list.New(), elems: map[net.Conn]*list.Element{}}
}

// connState is the http.Server ConnState hook.
func (p *pendingConns) connState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew, http.StateIdle:
		p.add(c)
	case http.StateClosed, http.StateHijacked:
		p.remove(c)
	case http.StateActive:
		// Reading has started, but the request may still be incomplete: the
		// connection stays pending until its handler runs (served).
	}
}

func (p *pendingConns) add(c net.Conn) {
	p.mu.Lock()
	if _, ok := p.elems[c]; !ok {
		p.elems[c] = p.order.PushBack(c)
	}
	var evict net.Conn
	if p.order.Len() > p.max {
		front := p.order.Front()
		evict = front.Value.(net.Conn)
		p.order.Remove(front)
		delete(p.elems, evict)
	}
	p.mu.Unlock()
	if evict != nil {
		// The server notices on its next read and cleans up; an error here
		// only means the connection was already closed.
		_ = evict.Close()
		if p.onClose != nil {
			p.onClose()
		}
	}
}

func (p *pendingConns) remove(c net.Conn) {
	p.mu.Lock()
	if e, ok := p.elems[c]; ok {
		p.order.Remove(e)
		delete(p.elems, c)
	}
	p.mu.Unlock()
}

// connKey is the context key under which ConnContext stores the connection.
type connKey struct{}

// connContext is the http.Server ConnContext hook: it remembers the
// connection so that the handler can mark it served.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// limitRequests wraps the server's handler: the request's connection is no
// longer pending (its headers are complete), and reading its body must end
// within bodyTimeout. A WebSocket handshake on /client/ has no body and is
// exempt, so that a slow answer from the service does not cancel it; once
// the proxy (or the embedded service) hijacks the connection, net/http
// clears its deadlines and the WebSocket lives as long as it is used.
func limitRequests(next http.Handler, pending *pendingConns, bodyTimeout time.Duration, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
			pending.remove(c)
		}
		if !isClientWebSocket(r) {
			// Errors mean the connection cannot take a deadline (not a
			// real socket, as under httptest.NewRecorder): nothing to bound.
			_ = http.NewResponseController(w).SetReadDeadline(now().Add(bodyTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// isClientWebSocket reports whether r is a WebSocket handshake for the
// service's client endpoint (/client/, proxied or embedded).
func isClientWebSocket(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/client/") &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		headerHasToken(r.Header, "Connection", "upgrade")
}

// headerHasToken reports whether the comma-separated header name lists token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
