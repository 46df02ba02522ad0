// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// BenchmarkBroadcast measures one REST broadcast reaching 1,000 raw WebSocket clients
// (b.N broadcasts). The clients run in this process too, so they read raw bytes and count
// them instead of parsing frames, to leave the CPU profile to the service:
//
//	go test -run '^$' -bench Broadcast -cpuprofile cpu.out ./pubsub/
func BenchmarkBroadcast(b *testing.B) {
	benchmarkBroadcast(b, []*testEnv{newEnv(b, nil)})
}

// BenchmarkBroadcastReplicas is BenchmarkBroadcast with the clients spread over three
// replicas sharing the hub through a NATS server in this process: the REST broadcasts go to
// the first replica, which publishes each once; it measures the overhead of the NATS hop.
func BenchmarkBroadcastReplicas(b *testing.B) {
	ns := startNATS(b, -1, nil)
	benchmarkBroadcast(b, newReplicas(b, 3, ns.ClientURL()))
}

// benchmarkBroadcast connects 1,000 raw clients, in turn to each of envs, and broadcasts
// through envs[0].
func benchmarkBroadcast(b *testing.B, envs []*testEnv) {
	const clients = 1000
	e := envs[0]
	urls := make([]string, len(envs))
	for i, env := range envs {
		a, err := webpubsub.ClientAccessFor(env.endpoint, testKey, testHub, webpubsub.ClientTokenOptions{}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		urls[i] = a.URL
	}
	const payload = "0123456789012345678901234567890123456789"
	const frameBytes = 2 + len(payload) // a short unmasked text frame
	var got atomic.Int64
	var wg sync.WaitGroup
	for i := range clients {
		c, _, err := websocket.DefaultDialer.Dial(urls[i%len(urls)], nil)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for {
				n, err := c.NetConn().Read(buf)
				if err != nil {
					return
				}
				got.Add(int64(n))
			}
		}()
	}
	// A dial returns with the 101 response, before the service registers the connection: a
	// broadcast sent earlier would miss it and the wait below would last until keep-alive pings.
	registered := func() int {
		n := 0
		for _, env := range envs {
			n += env.srv.reg.Count()
		}
		return n
	}
	for registered() < clients {
		time.Sleep(time.Millisecond)
	}
	msg := webpubsub.TextContent(payload)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := e.rest.SendToAll(ctx(b), msg, nil); err != nil {
			b.Fatal(err)
		}
	}
	for got.Load() < int64(b.N*clients*frameBytes) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N*clients)/b.Elapsed().Seconds(), "deliveries/s")
}
