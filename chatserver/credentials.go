// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// service is everything derived from one connection string: the REST
// client and the event handler that checks signatures with its key. It is
// replaced as a whole when the connection string changes.
type service struct {
	conn    *webpubsub.ConnectionString
	client  *webpubsub.Client
	handler http.Handler
}

// credentials holds the current service and, when the connection string
// comes from a file, reloads it when the file changes.
type credentials struct {
	build    func(*webpubsub.ConnectionString) (*service, error)
	path     string
	interval time.Duration
	log      *slog.Logger
	onChange func()

	cur     atomic.Pointer[service]
	lastRaw []byte
}

// newCredentials loads the connection string from path when it is set, or
// parses raw otherwise, and builds the first service from it.
func newCredentials(raw, path string, interval time.Duration, log *slog.Logger,
	build func(*webpubsub.ConnectionString) (*service, error)) (*credentials, error) {
	c := &credentials{build: build, path: path, interval: interval, log: log}
	if path == "" {
		cs, err := webpubsub.ParseConnectionString(raw)
		if err != nil {
			return nil, fmt.Errorf("the Web PubSub connection string is invalid: %w", err)
		}
		svc, err := build(cs)
		if err != nil {
			return nil, err
		}
		c.cur.Store(svc)
		return c, nil
	}
	if _, err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// current returns the service built from the newest valid connection string.
func (c *credentials) current() *service { return c.cur.Load() }

// reload reads the file and, when its content changed and parses, swaps the
// service. It reports whether the service changed. The file is small, so it
// is simply read and compared on every poll: that catches both in-place edits
// and Kubernetes' symlink swap of Secret volumes. Errors name the file but
// never include its content.
func (c *credentials) reload() (bool, error) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return false, fmt.Errorf("cannot read the connection string file %s: %w", c.path, unwrapPathError(err))
	}
	if c.lastRaw != nil && bytes.Equal(b, c.lastRaw) {
		return false, nil
	}
	cs, err := webpubsub.ParseConnectionString(strings.TrimSpace(string(b)))
	if err != nil {
		return false, fmt.Errorf("the connection string in %s is invalid: %w", c.path, err)
	}
	svc, err := c.build(cs)
	if err != nil {
		return false, err
	}
	c.cur.Store(svc)
	c.lastRaw = b
	return true, nil
}

// watch polls the file until ctx ends. A bad file keeps the previous
// connection string in use and is logged.
func (c *credentials) watch(ctx context.Context) {
	if c.path == "" {
		return
	}
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := c.reload()
		switch {
		case err != nil:
			c.log.Warn("Keeping the previous connection string", "error", err)
		case changed:
			c.log.Info("Reloaded the connection string", "endpoint", c.current().conn.Endpoint.String())
			if c.onChange != nil {
				c.onChange()
			}
		}
	}
}

// unwrapPathError drops the path from a *PathError (the caller names it).
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
