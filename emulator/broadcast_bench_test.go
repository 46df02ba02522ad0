package emulator

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

// BenchmarkBroadcast measures one REST broadcast reaching 1,000 raw WebSocket clients
// (b.N broadcasts; the clients run in this process too).
func BenchmarkBroadcast(b *testing.B) {
	const clients = 1000
	e := newEnv(b, nil)
	a, err := webpubsub.ClientAccessFor(e.endpoint, testKey, testHub, webpubsub.ClientTokenOptions{}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		c, _, err := websocket.DefaultDialer.Dial(a.URL, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				got.Add(1)
			}
		}()
	}
	msg := webpubsub.TextContent("0123456789012345678901234567890123456789")
	b.ResetTimer()
	for range b.N {
		if err := e.rest.SendToAll(ctx(b), msg, nil); err != nil {
			b.Fatal(err)
		}
	}
	for got.Load() < int64(b.N*clients) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N*clients)/b.Elapsed().Seconds(), "deliveries/s")
}
