// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chathub/chathub/internal/mapshrink"
)

// connGuard bounds the connections of an http.Server that have not authenticated: accepted
// connections still sending their headers, requests not (yet) authenticated (health checks,
// refused tokens, slow bodies), and idle keep-alive connections that never authenticated.
// Once more than max are open, the oldest of them is closed, so that a slowloris neither
// exhausts the process's descriptors nor locks out health checks and real clients: a new
// connection always gets in, and the stalled ones are the oldest. A connection leaves the
// set for good once a request on it authenticates (markAuthenticated), or when it becomes a
// WebSocket (hijacked) or closes.
type connGuard struct {
	max     int
	evicted prometheus.Counter

	mu      sync.Mutex
	conns   map[net.Conn]*guardedConn
	peak    int       // of conns, for mapshrink: a burst of handshakes does not keep its room
	pending list.List // of *guardedConn, oldest first
}

// guardedConn is one connection known to a connGuard.
type guardedConn struct {
	g             *connGuard
	c             net.Conn
	elem          *list.Element // in connGuard.pending, nil when not there
	authenticated bool
}

type guardKey struct{}

func newConnGuard(maxPending int, evicted prometheus.Counter) *connGuard {
	return &connGuard{max: maxPending, evicted: evicted, conns: map[net.Conn]*guardedConn{}}
}

// install sets the server's ConnContext and ConnState hooks.
func (g *connGuard) install(hs *http.Server) {
	hs.ConnContext = g.connContext
	hs.ConnState = g.connState
}

// connContext runs before the connection's first state change and makes it known to the
// request handlers (markAuthenticated).
func (g *connGuard) connContext(ctx context.Context, c net.Conn) context.Context {
	gc := &guardedConn{g: g, c: c}
	g.mu.Lock()
	g.conns[c] = gc
	mapshrink.Grown(len(g.conns), &g.peak)
	g.mu.Unlock()
	return context.WithValue(ctx, guardKey{}, gc)
}

func (g *connGuard) connState(c net.Conn, state http.ConnState) {
	var evict []net.Conn
	g.mu.Lock()
	gc := g.conns[c]
	switch state {
	case http.StateNew:
		if gc != nil && !gc.authenticated && gc.elem == nil {
			gc.elem = g.pending.PushBack(gc)
		}
		for g.pending.Len() > g.max {
			old := g.pending.Remove(g.pending.Front()).(*guardedConn)
			old.elem = nil
			evict = append(evict, old.c)
		}
	case http.StateHijacked, http.StateClosed:
		if gc != nil {
			g.unpend(gc)
			delete(g.conns, c)
			g.conns = mapshrink.Shrink(g.conns, &g.peak)
		}
	}
	g.mu.Unlock()
	for _, old := range evict {
		// The server notices on its next read or write and ends the connection.
		_ = old.Close()
		g.evicted.Inc()
	}
}

// unpend removes gc from the pending set; g.mu must be held.
func (g *connGuard) unpend(gc *guardedConn) {
	if gc.elem != nil {
		g.pending.Remove(gc.elem)
		gc.elem = nil
	}
}

// markAuthenticated records that a request on the connection of ctx has authenticated: the
// connection no longer counts against the bound. Without a guard (a server that did not
// install one) it does nothing.
func markAuthenticated(ctx context.Context) {
	gc, _ := ctx.Value(guardKey{}).(*guardedConn)
	if gc == nil {
		return
	}
	g := gc.g
	g.mu.Lock()
	gc.authenticated = true
	g.unpend(gc)
	g.mu.Unlock()
}

// withBodyDeadline gives every request that is not a WebSocket handshake timeout to send
// its body: a read deadline on the connection, which also bounds the server's reading of an
// unread body after the handler returns. WebSocket handshakes are left alone: their
// connections are hijacked and the socket's reader sets its own deadlines.
func withBodyDeadline(next http.Handler, timeout time.Duration, isUpgrade func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isUpgrade(r) {
			// Not every ResponseWriter supports deadlines (an embedding server's may not).
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		next.ServeHTTP(w, r)
	})
}
