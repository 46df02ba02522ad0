// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chathub/chathub/pubsub"
	"github.com/chathub/chathub/webpubsub"
)

// EventHandlerSettings returns the hub settings that send the chat's events
// (DefaultEventHandler) to eventHandlerURL.
func EventHandlerSettings(eventHandlerURL string) *webpubsub.HubSettings {
	return &webpubsub.HubSettings{Properties: webpubsub.HubProperties{
		EventHandlers: []webpubsub.EventHandlerSettings{DefaultEventHandler(eventHandlerURL)},
	}}
}

// RunEmbedded runs the whole chat in one process: the PubSub
// service and the chat server share one listener on cfg.Listen (the
// service's /client/, /api/ and /subscriptions/ routes, the chat's
// everything else), with the chat's event handler registered with the
// service; with cfg.InternalListen set, the event handler is served there
// instead and the service calls it there. Metrics are on cfg.MetricsListen. It prints how to open the chat to out and serves until ctx ends.
func RunEmbedded(ctx context.Context, cfg Config, opts Options, out io.Writer) error {
	cfg.Embedded = true
	if err := cfg.Validate(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	// chat.serve closes ln; this covers the returns before it, where closing an
	// unused listener has no error worth reporting.
	defer func() { _ = ln.Close() }()
	addr := ln.Addr().(*net.TCPAddr)
	browserHost, dialHost := "localhost", "127.0.0.1"
	if !addr.IP.IsUnspecified() && !addr.IP.IsLoopback() {
		browserHost, dialHost = addr.IP.String(), addr.IP.String()
	}
	port := strconv.Itoa(addr.Port)
	endpoint := &url.URL{Scheme: "http", Host: net.JoinHostPort(browserHost, port)}

	key, err := webpubsub.NewAccessKey()
	if err != nil {
		return err
	}
	emu, err := pubsub.New(pubsub.Config{Endpoint: endpoint, AccessKeys: []string{key}, Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("cannot start the PubSub service: %w", err)
	}
	// The service shuts down first, while the chat server still receives
	// the disconnected events it sends as it closes the connections.
	var stopOnce sync.Once
	stopService := func() {
		stopOnce.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = emu.Shutdown(sctx)
		})
	}
	defer stopService()

	cfg.ConnectionString = emu.ConnectionString()
	cfg.ConnectionStringFile = ""
	chat, err := New(cfg, opts)
	if err != nil {
		return err
	}
	handlerURL := "http://" + net.JoinHostPort(dialHost, port) + "/eventhandler"
	more, err := Listen(cfg)
	if err != nil {
		return err
	}
	defer more.Close() // as for ln
	if more.Internal != nil {
		iaddr := more.Internal.Addr().(*net.TCPAddr)
		ihost := "127.0.0.1"
		if !iaddr.IP.IsUnspecified() && !iaddr.IP.IsLoopback() {
			ihost = iaddr.IP.String()
		}
		handlerURL = "http://" + net.JoinHostPort(ihost, strconv.Itoa(iaddr.Port)) + "/eventhandler"
	}
	if err := emu.SetHubSettings(cfg.Hub, EventHandlerSettings(handlerURL)); err != nil {
		return fmt.Errorf("cannot register the event handler with the PubSub service: %w", err)
	}

	// The banner is best effort: a failed write to the terminal stops nothing.
	_, _ = fmt.Fprintf(out, "ChatHub is running with an embedded Web PubSub service (hub %q).\n", cfg.Hub)
	_, _ = fmt.Fprintf(out, "Open %s in two browser windows, pick two names and chat. Press Ctrl+C to stop.\n",
		(&url.URL{Scheme: "http", Host: endpoint.Host, Path: "/"}).String())

	err = chat.serve(ctx, ln, embeddedRoutes(emu.Handler(), chat.Handler()), more, stopService)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// embeddedRoutes sends the service's routes to the PubSub service and the
// rest to the chat server.
func embeddedRoutes(service, chat http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/client/") || strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/subscriptions/") {
			service.ServeHTTP(w, r)
			return
		}
		chat.ServeHTTP(w, r)
	})
}
