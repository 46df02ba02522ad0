// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chathub/chathub/pubsub/arm"
	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/pubsub/transport"
	"github.com/chathub/chathub/pubsub/upstream"
	"github.com/chathub/chathub/webpubsub"
)

// Server is the PubSub service. Serve its Handler with an http.Server and call
// Shutdown before exiting.
type Server struct {
	cfg       Config
	log       *slog.Logger
	reg       *hub.Registry
	disp      *upstream.Dispatcher
	metrics   *metrics
	transport *transport.Transport
	handler   http.Handler
	cluster   *cluster.Cluster // nil for a single replica
	// synced is set once a replica has the ARM-set hub settings of the others, or has waited
	// three heartbeats without hearing from another replica.
	synced atomic.Bool

	keys    atomic.Pointer[[]string] // the current access keys, primary first
	closing atomic.Bool
	// hs is the HTTP server ConfigureHTTPServer prepared, which Shutdown stops; nil when the
	// caller serves Handler some other way (and stops its server itself).
	hs       *http.Server
	stopPing chan struct{}
	stopOnce sync.Once
}

// New validates cfg and returns a running service (its keep-alive loop started).
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, stopPing: make(chan struct{})}
	keys := slices.Clone(cfg.AccessKeys)
	s.keys.Store(&keys)
	s.reg = hub.NewRegistry(hub.Config{
		MaxQueueFrames:   cfg.MaxQueueFrames,
		MaxQueueBytes:    cfg.MaxQueueBytes,
		MaxUnackedFrames: cfg.MaxUnackedFrames,
		MaxUnackedBytes:  cfg.MaxUnackedBytes,
		RecoveryWindow:   cfg.RecoveryWindow,
		OnClose:          s.onClose,
	})
	s.metrics = newMetrics(s.reg)
	s.disp = upstream.NewDispatcher(upstream.Config{
		Store:       cfg.Settings,
		AccessKeys:  s.accessKeys,
		Origin:      cfg.Endpoint.Hostname(),
		HTTPClient:  cfg.UpstreamClient,
		Logger:      cfg.Logger,
		Timeout:     cfg.UpstreamTimeout,
		RetryDelays: cfg.UpstreamRetryDelays,
		Registerer:  s.metrics.reg,
	})
	s.transport = transport.New(transport.Config{
		Handler:       socketHandler{s},
		KeepAlive:     cfg.KeepAlive,
		WriteTimeout:  cfg.WriteTimeout,
		Writers:       cfg.WriterPoolSize,
		WriteCoalesce: cfg.WriteCoalesce,
		MessageRate:   cfg.RateLimit,
		MessageBurst:  cfg.RateBurst,
	})
	armCfg := arm.Config{
		Store: cfg.Settings, AccessKeys: s.accessKeys, Endpoint: cfg.Endpoint, Logger: cfg.Logger, Now: cfg.Now,
		Authenticated: func(r *http.Request) { markAuthenticated(r.Context()) },
	}
	if cfg.Cluster != nil {
		cc := *cfg.Cluster
		cc.Handler, cc.Logger, cc.Registerer = clusterHandler{s}, cfg.Logger, s.metrics.reg
		cl, err := cluster.New(cc)
		if err != nil {
			_ = s.disp.Close(context.Background())
			return nil, err
		}
		s.cluster = cl
		if err := cl.Start(); err != nil {
			_ = s.disp.Close(context.Background())
			return nil, err
		}
		armCfg.Changed = s.settingsChanged
		time.AfterFunc(3*cl.Heartbeat(), func() { s.synced.Store(true) })
	}
	s.handler = withBodyDeadline(s.routes(arm.NewHandler(armCfg)), cfg.BodyTimeout, transport.IsUpgrade)
	go s.keepAlive()
	return s, nil
}

// accessKeys returns the current access keys, primary first. Callers must not modify the
// slice: SetAccessKeys replaces it as a whole.
func (s *Server) accessKeys() []string { return *s.keys.Load() }

// SetAccessKeys replaces the access keys, primary first: from then on tokens and signatures
// are checked against these keys only, while connections already open stay open. Each key
// must pass ValidateAccessKey; on an error nothing changes.
func (s *Server) SetAccessKeys(keys []string) error {
	if len(keys) == 0 {
		return errors.New("at least one access key is required")
	}
	for i, k := range keys {
		if err := ValidateAccessKey(k); err != nil {
			return fmt.Errorf("access key %d: %w", i+1, err)
		}
	}
	keys = slices.Clone(keys)
	s.keys.Store(&keys)
	return nil
}

// ConfigureHTTPServer prepares hs, which serves Handler, against stalled and unauthenticated
// connections: it sets ReadHeaderTimeout and IdleTimeout from the Config and bounds the
// connections that have not authenticated to Config.MaxUnauthenticated. Beyond that bound
// the oldest of them is closed, so a slowloris can neither exhaust the descriptors nor keep
// health checks or real clients out. It replaces hs.ConnContext and hs.ConnState.
func (s *Server) ConfigureHTTPServer(hs *http.Server) {
	hs.ReadHeaderTimeout = s.cfg.ReadHeaderTimeout
	hs.IdleTimeout = s.cfg.IdleTimeout
	newConnGuard(s.cfg.MaxUnauthenticated, s.metrics.evicted).install(hs)
	s.hs = hs
}

// Handler returns the HTTP handler serving every route of the service.
func (s *Server) Handler() http.Handler { return s.handler }

// ConnectionString returns the service's connection string (it contains the current primary
// key).
func (s *Server) ConnectionString() string {
	cs := webpubsub.ConnectionString{Endpoint: s.cfg.Endpoint, AccessKey: s.accessKeys()[0], Version: "1.0"}
	return cs.Format()
}

// SetHubSettings replaces the settings (event handlers) of a hub.
func (s *Server) SetHubSettings(hub string, hs *webpubsub.HubSettings) error {
	return s.cfg.Settings.Set(hub, hs)
}

// Shutdown stops the service in an order that loses no REST call: it turns keep-alive off
// on the HTTP server ConfigureHTTPServer prepared (each answer closes its connection, so the
// callers' next requests open new ones, which the Service sends to the replicas that stay),
// closes every client connection with 1001 (ServiceReload) and waits for the sockets to
// finish, then stops that HTTP server, which lets the REST calls in flight finish, and only
// then leaves the other replicas (NATS) and delivers the queued disconnected events. It gives
// up when ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.stopOnce.Do(func() { close(s.stopPing) })
	if s.hs != nil {
		s.hs.SetKeepAlivesEnabled(false)
	}
	for _, c := range s.reg.Conns() {
		c.Close(protocol.CloseGoingAway, protocol.ReasonServiceReload)
	}
	var err error
	for s.transport.Sockets() > 0 && err == nil {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if s.hs != nil {
		// A REST call answered before this replica leaves the cluster reached the others.
		if herr := s.hs.Shutdown(ctx); herr != nil && err == nil {
			err = herr
		}
	}
	if s.cluster != nil {
		s.cluster.Close()
	}
	return errors.Join(err, s.disp.Close(ctx))
}

func (s *Server) routes(armHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /client/hubs/{hub}", s.serveClient)
	mux.HandleFunc("GET /client/{$}", s.serveClient)
	mux.HandleFunc("GET /client", s.serveClient)
	mux.Handle("/subscriptions/", armHandler)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("HEAD /api/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", s.serveReady)
	s.restRoutes(mux)
	return mux
}

// serveReady answers 200 while the service accepts connections and 503 once Shutdown has
// begun, or while a replica is not connected to NATS (its clients would not reach those of
// the other replicas) or has not yet received the hub settings of the others. A Server is built with its keys and hub settings (New), so it knows
// every hub's event handler before it can answer at all.
func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if s.closing.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if s.cluster != nil && !s.cluster.Ready() {
		http.Error(w, "not connected to NATS", http.StatusServiceUnavailable)
		return
	}
	if s.cluster != nil && !s.synced.Load() {
		http.Error(w, "waiting for the hub settings of the other replicas", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// keepAlive pings every socket once per interval from one goroutine: the pings go through
// each connection's send queue, so a stuck socket never blocks the others.
func (s *Server) keepAlive() {
	t := time.NewTicker(s.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-s.stopPing:
			return
		case <-t.C:
			for _, c := range s.reg.Conns() {
				c.SendPing()
			}
		}
	}
}

// onClose runs once per connection after its final close.
func (s *Server) onClose(c *hub.Conn, reason string) {
	s.metrics.disconnects.WithLabelValues(reasonLabel(reason)).Inc()
	if reason == protocol.ReasonRateLimited {
		s.log.Info("Closed a connection over its rate limit", "hub", c.Hub().Name(), "conn", c.ID(), "user", c.UserID(),
			"rate", s.cfg.RateLimit, "burst", s.cfg.RateBurst)
	}
	s.log.Debug("Connection closed", "hub", c.Hub().Name(), "conn", c.ID(), "user", c.UserID(), "reason", reason)
	s.disp.Disconnected(connInfo(c), reason)
}

// reasonLabel bounds the metric label: app servers may close with any reason text.
func reasonLabel(reason string) string {
	switch reason {
	case protocol.ReasonNormal, protocol.ReasonClosedByServer, protocol.ReasonServiceReload,
		protocol.ReasonPingTimeout, protocol.ReasonSlowClient, protocol.ReasonRecoveryExpired,
		protocol.ReasonBufferFull, protocol.ReasonTooBig, protocol.ReasonBadMessage,
		protocol.ReasonUpstreamFailure, protocol.ReasonNoEventHandler, protocol.ReasonRateLimited,
		transport.ReasonClosedByClient, transport.ReasonConnectionLost:
		return reason
	}
	return protocol.ReasonClosedByServer
}

func connInfo(c *hub.Conn) upstream.ConnectionInfo {
	return upstream.ConnectionInfo{
		Hub: c.Hub().Name(), ConnectionID: c.ID(), UserID: c.UserID(), Subprotocol: c.Subprotocol(), State: c.State(),
	}
}

// newID returns a random URL-safe id of n random bytes.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
