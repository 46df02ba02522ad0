// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// RunCommand runs the PubSub service as `chathub pubsub` does: it listens on
// cfg.Listen, prints the connection string as the first line of out and
// serves until ctx ends, then shuts down gracefully. The key in the printed
// connection string is redacted unless it was generated or typed (see
// CommandConfig.ResolveAccessKey). cfg should have passed LoadFiles and
// Validate; logger receives the service's logs.
func RunCommand(ctx context.Context, cfg CommandConfig, logger *slog.Logger, out io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	// hs.Serve closes ln; this covers the returns before it, where closing an
	// unused listener has no error worth reporting.
	defer func() { _ = ln.Close() }()
	sc, showKey, err := cfg.ServiceConfig(ln.Addr().String(), logger)
	if err != nil {
		return err
	}
	srv, err := New(sc)
	if err != nil {
		return fmt.Errorf("starting the PubSub service: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// Best effort, as before: a reader of out that went away does not stop the service.
	_, _ = fmt.Fprintln(out, printedConnectionString(srv.ConnectionString(), showKey))
	logger.Info("Serving the PubSub service", "listen", ln.Addr().String(), "endpoint", sc.Endpoint.String())

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("Shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	return errors.Join(shutErr, hs.Shutdown(sctx))
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
