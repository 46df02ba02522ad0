// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package pprofserver serves the Go runtime's profiles (net/http/pprof) of a chathub process
// for the benchmarks and for profiling by hand. It is off by default: `chathub pubsub` and
// `chathub chatserver` start it only when the environment variable CHATHUB_PPROF_LISTEN names
// an address, and that address must be a loopback one (127.0.0.0/8 or ::1), so the profiles
// (which reveal the process's internals and cost CPU to take) are never offered to a network.
package pprofserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// EnvListen is the environment variable naming the profiling listener's address, e.g.
// 127.0.0.1:6060. Unset or empty: no profiling listener.
const EnvListen = "CHATHUB_PPROF_LISTEN"

// CheckLoopback returns an error unless addr is host:port with a literal loopback IP as its
// host (a name such as localhost is refused: it could resolve to anything).
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("the profiling address %s=%q is not host:port: %w", EnvListen, addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("the profiling address %s=%q must have a loopback IP as its host (127.0.0.1 or ::1)", EnvListen, addr)
	}
	return nil
}

// Handler returns the pprof endpoints under /debug/pprof/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Start listens on addr (which must be a loopback address, see CheckLoopback) and serves
// Handler until ctx ends. It returns the listener's address.
func Start(ctx context.Context, addr string) (net.Addr, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen for profiling on %s: %w", addr, err)
	}
	// A CPU profile takes as long as its ?seconds=; there is no write timeout.
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return // the listener failed; profiling is best effort and the process goes on
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return ln.Addr(), nil
}

// StartFromEnv starts the profiling listener when getenv(EnvListen) is set and returns its
// address, or nil when it is not set.
func StartFromEnv(ctx context.Context, getenv func(string) string) (net.Addr, error) {
	addr := getenv(EnvListen)
	if addr == "" {
		return nil, nil
	}
	return Start(ctx, addr)
}
