// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of an upstream request, the "outcome" label of the metrics.
const (
	outcomeSuccess      = "success"       // 2xx (validation: 2xx with an allowed origin)
	outcomeRejected     = "rejected"      // 4xx other than 408, or a refused validation
	outcomeFailure      = "failure"       // 408 or 5xx (retried)
	outcomeError        = "error"         // no HTTP answer: network error or timeout
	outcomeNotValidated = "not_validated" // event not sent: the URL failed validation
)

// metrics are the dispatcher's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	dropped  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_upstream_requests_total",
			Help: "Requests to event handlers, by event type (connect, connected, disconnected, user, validate) and outcome.",
		}, []string{"event", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chathub_pubsub_upstream_request_duration_seconds",
			Help:    "Duration of one request to an event handler, by event type.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 100},
		}, []string{"event"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_upstream_dropped_events_total",
			Help: "Non-blocking events dropped before delivery (queue full, connection gone, dispatcher closed).",
		}, []string{"event"}),
	}
	if reg == nil {
		return m
	}
	m.requests = register(reg, m.requests, log)
	m.latency = register(reg, m.latency, log)
	m.dropped = register(reg, m.dropped, log)
	return m
}

// register registers c, reusing an identical collector already registered (two dispatchers
// sharing one registry count together).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		log.Warn("Upstream metrics not registered", "error", err)
	}
	return c
}

// observe counts one request and records its duration.
func (d *Dispatcher) observe(kind, outcome string, start time.Time) {
	d.metrics.requests.WithLabelValues(kind, outcome).Inc()
	d.metrics.latency.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}
