// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/chathub/chathub/internal/version"
	"github.com/chathub/chathub/pubsub/hub"
)

// metrics are the service's Prometheus collectors, on a registry of its own.
type metrics struct {
	reg          *prometheus.Registry
	connects     *prometheus.CounterVec
	disconnects  *prometheus.CounterVec
	messagesIn   *prometheus.CounterVec
	messagesOut  prometheus.Counter
	restRequests *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	evicted      prometheus.Counter
}

func newMetrics(reg *hub.Registry) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_connections_opened_total",
			Help: "Client connections accepted, by subprotocol (raw for none).",
		}, []string{"protocol"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_connections_closed_total",
			Help: "Client connections closed for good, by reason (Normal, SlowClient, PingTimeout, ...).",
		}, []string{"reason"}),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_messages_received_total",
			Help: "Client frames received, by message type (raw, joinGroup, sendToGroup, event, ...).",
		}, []string{"type"}),
		messagesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chathub_pubsub_messages_sent_total",
			Help: "Frames written to client sockets (data, acks and system messages).",
		}),
		restRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_rest_requests_total",
			Help: "REST data-plane requests, by operation and status code.",
		}, []string{"operation", "code"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_handshakes_rejected_total",
			Help: "Client handshakes refused, by HTTP status.",
		}, []string{"code"}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chathub_pubsub_unauthenticated_connections_closed_total",
			Help: "Connections that had not authenticated, closed because more than the bound (--max-unauthenticated) were open.",
		}),
	}
	m.reg.MustRegister(
		m.connects, m.disconnects, m.messagesIn, m.messagesOut, m.restRequests, m.rejected, m.evicted,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chathub_pubsub_connections",
			Help: "Client connections currently open (including reliable ones waiting for recovery).",
		}, func() float64 { return float64(reg.Count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chathub_pubsub_hubs",
			Help: "Hubs with at least one connection (a hub without connections takes no memory).",
		}, func() float64 { return float64(reg.Hubs()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		version.NewCollector(),
	)
	return m
}
