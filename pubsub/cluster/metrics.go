// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cluster

import "github.com/prometheus/client_golang/prometheus"

// metrics are the NATS hop's collectors, beside the service's own (pubsub/metrics.go).
type metrics struct {
	published  *prometheus.CounterVec
	received   *prometheus.CounterVec
	incomplete *prometheus.CounterVec
	dropped    prometheus.Counter
	lag        prometheus.Histogram
}

func newMetrics() *metrics {
	return &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_nats_published_total",
			Help: "Operations and requests this replica published to the replicas (itself included) through NATS, by kind (send, join, close, exists, ...).",
		}, []string{"kind"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_nats_received_total",
			Help: "Operations, requests and heartbeats this replica received through NATS (its own operations included), by kind.",
		}, []string{"kind"}),
		incomplete: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chathub_pubsub_nats_requests_incomplete_total",
			Help: "Requests to the other replicas that some replica known to be alive did not answer in time, by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chathub_pubsub_nats_slow_consumer_total",
			Help: "Times the NATS client dropped messages because this replica fell behind applying them.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chathub_pubsub_nats_lag_seconds",
			Help:    "Time from a replica publishing an operation to this replica receiving it: the round trip through NATS for its own, plus the clock skew between nodes for the others'.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}),
	}
}

func (m *metrics) register(r prometheus.Registerer, c *Cluster) {
	if r == nil {
		return
	}
	r.MustRegister(m.published, m.received, m.incomplete, m.dropped, m.lag,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chathub_pubsub_nats_connected",
			Help: "1 while this replica is connected to NATS (and Ready), else 0.",
		}, func() float64 {
			if c.Ready() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chathub_pubsub_replicas",
			Help: "Replicas of the service this replica hears from through NATS, itself included.",
		}, func() float64 { return float64(c.Peers() + 1) }),
	)
}
