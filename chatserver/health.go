// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// readiness caches the result of the service's health check for a short
// time so that frequent probes do not turn into a request each.
type readiness struct {
	ttl   time.Duration
	check func(ctx context.Context) error
	now   func() time.Time

	mu      sync.Mutex
	checked time.Time
	err     error
}

// status returns the cached result, checking again when it is older than ttl.
// Concurrent callers share one check. The check does not end with the probe
// that started it: a prober that gives up (kubelet's 1 s timeout) must not
// leave "context canceled" cached as the service's health for everyone.
func (r *readiness) status(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checked.IsZero() && r.now().Sub(r.checked) < r.ttl {
		return r.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	r.err = r.check(ctx)
	r.checked = r.now()
	return r.err
}

func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := s.ready.status(r.Context()); err != nil {
		s.metrics.failures.WithLabelValues("health").Inc()
		s.log.Warn("The Web PubSub service is not healthy", "hub", s.cfg.Hub, "error", err)
		httpError(w, http.StatusServiceUnavailable, "the Web PubSub service is not reachable")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
