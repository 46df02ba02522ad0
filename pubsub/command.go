// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/chathub/chathub/pubsub/fdconn"
	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// RunCommand runs the PubSub service as `chathub pubsub` does: it loads the
// access keys and the hub settings, then listens on cfg.Listen, prints the
// connection string as the first line of out and serves until ctx ends, then
// shuts down gracefully. Every hub of the settings file is known before the
// first connection is accepted. While serving, the key files and the
// settings file are re-read every cfg.ReloadInterval. The key in the printed
// connection string is the primary key, redacted unless it was generated or
// typed (see CommandConfig.ResolveAccessKeys). cfg should have passed
// LoadFiles and Validate; logger receives the service's logs.
func RunCommand(ctx context.Context, cfg CommandConfig, logger *slog.Logger, out io.Writer) error {
	keys, showKey, err := cfg.ResolveAccessKeys()
	if err != nil {
		return err
	}
	store, err := cfg.SettingsStore()
	if err != nil {
		return err
	}
	// Client sockets stay outside Go's network poller, whose per-socket memory is never
	// given back (see pubsub/fdconn).
	ln, err := fdconn.Listen(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	// hs.Serve closes ln; this covers the returns before it, where closing an
	// unused listener has no error worth reporting.
	defer func() { _ = ln.Close() }()
	endpoint, err := cfg.AdvertisedEndpoint(ln.Addr().String())
	if err != nil {
		return err
	}
	srv, err := New(cfg.serviceConfig(endpoint, keys, logger, store))
	if err != nil {
		return fmt.Errorf("starting the PubSub service: %w", err)
	}
	// ConfigureHTTPServer sets ReadHeaderTimeout, IdleTimeout and the bound on
	// unauthenticated connections.
	hs := &http.Server{Handler: srv.Handler(), ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)} //nolint:gosec // G112: see ConfigureHTTPServer
	srv.ConfigureHTTPServer(hs)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var wg sync.WaitGroup
	rctx, stopReload := context.WithCancel(ctx)
	defer func() {
		stopReload()
		wg.Wait()
	}()
	if r := newReloader(&cfg, keys, srv, store, logger); r != nil {
		wg.Go(func() { r.run(rctx) })
	}
	// Best effort, as before: a reader of out that went away does not stop the service.
	_, _ = fmt.Fprintln(out, printedConnectionString(srv.ConnectionString(), showKey))
	logger.Info("Serving the PubSub service", "listen", ln.Addr().String(), "endpoint", endpoint.String(), "hubs", len(store.Hubs()))

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("Shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Shutdown stops hs too (ConfigureHTTPServer gave it hs), after the client connections and
	// before this replica leaves the others.
	return srv.Shutdown(sctx)
}

// printedConnectionString is the line printed on start: the connection
// string, with the key redacted unless show is set.
func printedConnectionString(full string, show bool) string {
	if show {
		return full
	}
	cs, err := webpubsub.ParseConnectionString(full)
	if err != nil {
		return "the connection string could not be formatted"
	}
	return cs.String()
}

// serviceConfig translates the command's configuration into the Server's.
func (c *CommandConfig) serviceConfig(endpoint *url.URL, keys []string, logger *slog.Logger, store *settings.Store) Config {
	rate := c.RateLimit
	if rate == 0 {
		rate = -1 // Config's "no limit"
	}
	return Config{
		Endpoint: endpoint, AccessKeys: keys, Logger: logger, Settings: store,
		RateLimit: rate, RateBurst: c.RateBurst,
		ReadHeaderTimeout: c.ReadHeaderTimeout, BodyTimeout: c.BodyTimeout, IdleTimeout: c.IdleTimeout,
		MaxUnauthenticated: c.MaxUnauthenticated,
		Cluster:            c.NATS.clusterConfig(),
	}
}
