// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package pubsub is the PubSub service, ChatHub's own Azure Web PubSub-compatible service: client WebSockets
// (raw, json.webpubsub.azure.v1 and json.reliable.webpubsub.azure.v1), the REST data plane
// (api-version 2024-12-01), upstream CloudEvents through pubsub/upstream and the ARM-shaped
// hub settings API through pubsub/arm, with Prometheus metrics and graceful shutdown. Several
// replicas share their hubs through NATS (pubsub/cluster) when configured.
//
// # Layers
//
// The service is built in layers, listed here from the top down. A package imports only
// packages of the layers below its own, never one of its own layer or above; layers_test.go
// reads this list and checks every package under pubsub/ against it.
//
//	cmd: `chathub pubsub` in the module root (flags, signals, http.Server)
//	pubsub: wiring, client handshake, client-message handling, REST handlers, metrics
//	pubsub/transport: upgrade, reader and control frames, writer pool, vectored writes
//	pubsub/upstream, pubsub/arm, pubsub/cluster: CloudEvents to event handlers; the ARM-shaped hub settings API; the NATS hop between replicas
//	pubsub/hub: connections, groups, users, send queues, reliable recovery, fan-out
//	pubsub/protocol, pubsub/settings, pubsub/filter, pubsub/auth, pubsub/fdconn: wire format; settings; filters; tokens; client sockets outside Go's network poller
//	webpubsub: the Go client library, whose types the service shares
//	internal/version: the version and commit stamped at build time (chathub_build_info)
//	internal/tokenbucket: the token bucket of the per-connection rate limit
//	internal/mapshrink: maps that give back the room of a burst of connections
//	internal/epoll: an epoll instance whose waiter parks in the Go runtime's poller, and its members' tokens
//	internal/envvar: the names of the environment variables (CHATHUB_ACCESS_KEY)
//	internal/proc: helpers of the tests that run the binaries as processes (tests only)
//	internal/testnats: a nats-server in the test's process (tests only)
//
// In the root package, server.go is the wiring (New, routes, keep-alive, Shutdown),
// handshake.go the client handshake, session.go the handling of client messages, rest*.go the
// REST data plane, auth.go the token checks, metrics.go the Prometheus collectors and
// replicas.go what replicas sharing their hubs through NATS (pubsub/cluster) do for each other.
//
// The root package owns everything that decides: who may connect (token, connect event),
// what a client message does (permissions, groups, user events) and the REST operations. It
// owns one transport.Transport, created in New with its writer pool, and implements
// transport.Handler to receive client frames. pubsub/transport knows nothing of tokens,
// permissions, event handlers or REST: it moves frames between a socket and a hub.Conn, and
// the hub knows a socket only as a hub.Transport (Notify, Close).
//
// A new connection goes through four steps in handshake.go: authorize (the token) → connect
// upstream (the connect event) → upgrade (transport.Transport.Upgrade) → register (hub
// registration, then the socket's reader starts).
package pubsub
