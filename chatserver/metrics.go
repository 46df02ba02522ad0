// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chathub/chathub/internal/version"
)

// metrics are the chat server's Prometheus collectors, on a private
// registry so that several servers can live in one process (tests).
type metrics struct {
	registry      *prometheus.Registry
	negotiations  *prometheus.CounterVec
	events        *prometheus.CounterVec
	broadcasts    *prometheus.CounterVec
	refused       *prometheus.CounterVec
	failures      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	broadcastTime prometheus.Histogram
	pendingClosed prometheus.Counter
}

// latencyBuckets are the histogram buckets (seconds) of the request and broadcast latencies.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newMetrics() *metrics {
	const ns, sub = "chathub", "chatserver"
	m := &metrics{
		registry: prometheus.NewRegistry(),
		negotiations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "negotiations_total",
			Help: "Client access URLs requested from /negotiate, by result (ok, bad_request, refused: sign-in refused, error).",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "events_total",
			Help: "Events received from the Web PubSub service, by event name.",
		}, []string{"event"}),
		broadcasts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "broadcasts_total",
			Help: "Messages broadcast to the hub through the REST API, by kind (system, chat).",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "messages_refused_total",
			Help: "Chat messages refused and not broadcast, by reason.",
		}, []string{"reason"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "failures_total",
			Help: "Failed operations, by operation (broadcast, negotiate, health, proxy).",
		}, []string{"op"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "request_duration_seconds",
			Help:    "Time to answer HTTP requests, by handler.",
			Buckets: latencyBuckets,
		}, []string{"handler"}),
		broadcastTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "broadcast_duration_seconds",
			Help:    "Time the REST send-to-all call took.",
			Buckets: latencyBuckets,
		}),
		pendingClosed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "pending_connections_closed_total",
			Help: "Connections closed because more than --max-pending-connections were waiting for a request.",
		}),
	}
	m.registry.MustRegister(m.negotiations, m.events, m.broadcasts, m.refused, m.failures,
		m.latency, m.broadcastTime, m.pendingClosed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		version.NewCollector())
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// timed records the time next takes to answer under the given handler label.
func (m *metrics) timed(name string, next http.Handler) http.Handler {
	obs := m.latency.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := prometheus.NewTimer(obs)
		next.ServeHTTP(w, r)
		t.ObserveDuration()
	})
}
