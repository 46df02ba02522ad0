// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/chathub/chathub/chatserver/auth"
	"github.com/chathub/chathub/chatserver/ui"
	"github.com/chathub/chathub/webpubsub"
)

// Options carries the chat server's collaborators; the zero value is usable.
type Options struct {
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient makes the REST calls to the service; nil uses a pooled
	// client sized for many concurrent webhooks.
	HTTPClient *http.Client
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Server is the chat server. Create it with New, serve Handler or call Run.
type Server struct {
	cfg            Config
	log            *slog.Logger
	now            func() time.Time
	httpClient     *http.Client
	proxyTransport http.RoundTripper
	metrics        *metrics
	creds          *credentials
	ready          *readiness
	limiter        *userLimiter
	auth           *auth.Authenticator
	handler        http.Handler
	// internal serves /eventhandler when cfg.InternalListen is set; nil
	// otherwise (handler serves it).
	internal http.Handler
	// metricsMux serves /metrics and /healthz on cfg.MetricsListen.
	metricsMux http.Handler
}

// Listeners are the chat server's listeners besides the public one.
type Listeners struct {
	// Internal serves InternalHandler; it is set exactly when
	// cfg.InternalListen is.
	Internal net.Listener
	// Metrics serves MetricsHandler; nil serves no metrics.
	Metrics net.Listener
}

// Listen opens the listeners of cfg.InternalListen and cfg.MetricsListen,
// those that are set.
func Listen(cfg Config) (Listeners, error) {
	var l Listeners
	var err error
	if cfg.InternalListen != "" {
		if l.Internal, err = net.Listen("tcp", cfg.InternalListen); err != nil {
			return l, fmt.Errorf("cannot listen on %s: %w", cfg.InternalListen, err)
		}
	}
	if cfg.MetricsListen != "" {
		if l.Metrics, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			l.Close() // the listen error is the one to report
			return Listeners{}, fmt.Errorf("cannot listen on %s: %w", cfg.MetricsListen, err)
		}
	}
	return l, nil
}

// Close closes the listeners that are set; Serve closes them itself.
func (l Listeners) Close() {
	for _, ln := range []net.Listener{l.Internal, l.Metrics} {
		if ln != nil {
			_ = ln.Close() // an unused listener: nothing to report
		}
	}
}

// New validates cfg and builds the server. It reads the connection string
// (from cfg.ConnectionString or cfg.ConnectionStringFile) once; errors are
// one sentence and never contain the access key.
func New(cfg Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: opts.Logger, now: opts.Now, httpClient: opts.HTTPClient, metrics: newMetrics(),
		limiter: newUserLimiter(cfg.UserMessageRate, cfg.UserMessageBurst)}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	if s.httpClient == nil {
		s.httpClient = &http.Client{Transport: transport}
	}
	s.proxyTransport = transport.Clone()
	creds, err := newCredentials(cfg.ConnectionString, cfg.ConnectionStringFile, cfg.ReloadInterval, s.log, s.buildService)
	if err != nil {
		return nil, err
	}
	s.creds = creds
	if s.auth, err = auth.New(cfg.Auth, auth.Options{Logger: s.log, Now: s.now}); err != nil {
		return nil, err
	}
	s.ready = &readiness{ttl: cfg.ReadyCacheTTL, now: s.now, check: func(ctx context.Context) error {
		return s.creds.current().client.Health(ctx)
	}}
	s.handler, s.internal = s.routes()
	s.metricsMux = s.metricsRoutes()
	return s, nil
}

// buildService makes the REST client and event handler for one connection
// string.
func (s *Server) buildService(cs *webpubsub.ConnectionString) (*service, error) {
	client, err := webpubsub.NewClient(cs, s.cfg.Hub, &webpubsub.ClientOptions{
		HTTPClient: s.httpClient, Timeout: s.cfg.RequestTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot create the Web PubSub client: %w", err)
	}
	c := &chat{srv: s, client: client}
	key := cs.AccessKey
	h, err := webpubsub.NewEventHandler(webpubsub.EventHandlerOptions{
		Hub:            s.cfg.Hub,
		TimeTolerance:  s.cfg.EventTimeTolerance,
		Now:            s.now,
		AccessKeys:     func() []string { return []string{key} },
		AllowedOrigins: []string{cs.Endpoint.Hostname()},
		Logger:         s.log,
		OnConnected:    c.onConnected,
		OnDisconnected: c.onDisconnected,
		OnUserEvent:    c.onUserEvent,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot create the event handler: %w", err)
	}
	return &service{conn: cs, client: client, handler: h}, nil
}

// routes builds the HTTP routes: the public ones and, when
// cfg.InternalListen is set, the internal ones (/eventhandler), which the
// public routes then leave out (404). /metrics is never public: see
// metricsRoutes.
func (s *Server) routes() (public, internal http.Handler) {
	mux := http.NewServeMux()
	static := http.FileServerFS(ui.FS())
	mux.Handle("GET /{$}", s.metrics.timed("ui", s.withUIHeaders(static)))
	mux.Handle("GET /app.css", s.metrics.timed("ui", s.withUIHeaders(static)))
	mux.Handle("GET /app.js", s.metrics.timed("ui", s.withUIHeaders(static)))
	mux.Handle("GET /favicon.svg", s.metrics.timed("ui", s.withUIHeaders(static)))
	mux.Handle("/negotiate", s.metrics.timed("negotiate", http.HandlerFunc(s.serveNegotiate)))
	mux.Handle("GET /auth/config", s.metrics.timed("negotiate", http.HandlerFunc(s.serveAuthConfig)))
	mux.HandleFunc("GET /healthz", s.serveHealthz)
	mux.HandleFunc("GET /readyz", s.serveReadyz)
	if s.cfg.ProxyClient {
		mux.Handle("/client/", s.clientProxy())
	}
	privileged := mux
	if s.cfg.InternalListen != "" {
		privileged = http.NewServeMux()
		privileged.HandleFunc("GET /healthz", s.serveHealthz)
		internal = privileged
	}
	events := s.metrics.timed("eventhandler", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.creds.current().handler.ServeHTTP(w, r)
	}))
	privileged.Handle("/eventhandler", events)
	privileged.Handle("/eventhandler/", events)
	return mux, internal
}

// metricsRoutes serves /metrics and, for a probe of the port, /healthz.
func (s *Server) metricsRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	mux.HandleFunc("GET /healthz", s.serveHealthz)
	return mux
}

// Handler returns the server's public HTTP handler. It never serves
// /metrics, and with cfg.InternalListen set it answers 404 for
// /eventhandler.
func (s *Server) Handler() http.Handler { return s.handler }

// InternalHandler returns the handler of cfg.InternalListen (/eventhandler
// and /healthz); nil when cfg.InternalListen is empty.
func (s *Server) InternalHandler() http.Handler { return s.internal }

// MetricsHandler returns the handler of cfg.MetricsListen: /metrics and
// /healthz.
func (s *Server) MetricsHandler() http.Handler { return s.metricsMux }

// ServiceEndpoint returns the endpoint of the Web PubSub service in use.
func (s *Server) ServiceEndpoint() string { return s.creds.current().conn.Endpoint.String() }

// Watch reloads the connection string file and, with --auth oidc,
// discovers the identity provider, until ctx ends. Run calls it; tests that
// serve Handler directly may too.
func (s *Server) Watch(ctx context.Context) {
	go s.auth.Run(ctx)
	s.creds.watch(ctx)
}

// Run serves on ln until ctx is cancelled, then shuts down gracefully: it
// stops accepting, lets in-flight requests (webhooks) finish within
// cfg.ShutdownTimeout, and then closes proxied WebSockets. It serves only
// the public routes (no metrics; with cfg.InternalListen set, no event
// handler); use Serve for the others.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.handler, Listeners{}, nil)
}

// Serve is Run with the internal routes (InternalHandler) on more.Internal
// and the metrics (MetricsHandler) on more.Metrics as well; more.Internal
// must be nil unless cfg.InternalListen is set. Listen opens them.
func (s *Server) Serve(ctx context.Context, ln net.Listener, more Listeners) error {
	if (more.Internal != nil) != (s.internal != nil) {
		return errors.New("an internal listener needs --internal-listen, and --internal-listen an internal listener")
	}
	return s.serve(ctx, ln, s.handler, more, nil)
}

// serve runs an HTTP server with handler on ln, one with the internal
// routes on more.Internal and one with the metrics on more.Metrics (those
// set), until ctx ends; see Run. beforeShutdown, when set, runs after ctx
// ends and before the HTTP servers stop, while webhooks are still served.
func (s *Server) serve(ctx context.Context, ln net.Listener, handler http.Handler, more Listeners, beforeShutdown func()) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	servers := []*http.Server{s.httpServer(handler, base)}
	listeners := []net.Listener{ln}
	if more.Internal != nil {
		servers = append(servers, s.httpServer(s.internal, base))
		listeners = append(listeners, more.Internal)
	}
	if more.Metrics != nil {
		servers = append(servers, s.httpServer(s.metricsMux, base))
		listeners = append(listeners, more.Metrics)
	}
	go s.Watch(ctx)
	errc := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { errc <- hs.Serve(listeners[i]) }()
	}
	attrs := []any{"addr", ln.Addr().String(), "hub", s.cfg.Hub, "endpoint", s.ServiceEndpoint(), "proxyClient", s.cfg.ProxyClient}
	if more.Internal != nil {
		attrs = append(attrs, "internalAddr", more.Internal.Addr().String())
	}
	if more.Metrics != nil {
		attrs = append(attrs, "metricsAddr", more.Metrics.Addr().String())
	}
	s.log.Info("Chat server listening", attrs...)
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	if serveErr != nil {
		for _, hs := range servers {
			_ = hs.Close() // the error that matters is serveErr
		}
		for range len(servers) - 1 {
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				s.log.Warn("Serving HTTP failed as well", "err", err)
			}
		}
		return fmt.Errorf("serving HTTP: %w", serveErr)
	}
	if beforeShutdown != nil {
		beforeShutdown()
	}
	s.log.Info("Shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	cancelBase() // ends proxied WebSockets, which Shutdown does not track
	for range servers {
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			return fmt.Errorf("serving HTTP: %w", serr)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	s.log.Info("Chat server stopped")
	return nil
}

// httpServer is an HTTP server for handler with the server's limits.
func (s *Server) httpServer(handler http.Handler, base context.Context) *http.Server {
	pending := newPendingConns(s.cfg.MaxPendingConnections, s.metrics.pendingClosed.Inc)
	return &http.Server{
		Handler:           limitRequests(handler, pending, s.cfg.ReadBodyTimeout, time.Now),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ConnState:         pending.connState,
		ConnContext:       connContext,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// withUIHeaders adds the page's security headers: only this origin's
// scripts and styles, WebSockets anywhere (the service may be elsewhere),
// and fetches to this origin and, with --auth oidc, the provider's token
// endpoint.
func (s *Server) withUIHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		connect := strings.Join(append([]string{"'self'"}, s.auth.ConnectOrigins()...), " ")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' data:; connect-src "+connect+" ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}
