// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package testnats runs a real nats-server in the test's process for the
// tests of the PubSub service's replicas and of the operator's NATS.
package testnats

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Start runs a nats-server with opts (nil: a free port on 127.0.0.1) made
// quiet (no log, no signal handlers), waits until it takes clients and
// stops it when the test ends.
func Start(t testing.TB, opts *natsserver.Options) *natsserver.Server {
	t.Helper()
	if opts == nil {
		opts = &natsserver.Options{Host: "127.0.0.1", Port: -1}
	}
	opts.NoLog, opts.NoSigs = true, true
	ns, err := natsserver.NewServer(opts)
	if err != nil {
		t.Fatalf("starting nats-server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatal("nats-server is not ready after 10 s")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}
