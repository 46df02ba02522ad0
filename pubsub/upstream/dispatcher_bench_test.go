// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/chathub/chathub/webpubsub"
)

// BenchmarkUserEventRoundTrip measures a blocking user event through a real
// webpubsub.EventHandler that verifies the signature and echoes the message, with many
// connections in parallel.
func BenchmarkUserEventRoundTrip(b *testing.B) {
	h, err := webpubsub.NewEventHandler(webpubsub.EventHandlerOptions{
		Hub:            testHub,
		AccessKeys:     func() []string { return []string{testKey} },
		AllowedOrigins: []string{testOrigin},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			return &webpubsub.UserEventResponse{Data: req.Data, ContentType: webpubsub.ContentTypeText}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	store := storeWith(b, srv.URL+"/api/{event}")
	d := NewDispatcher(Config{Store: store, AccessKeys: func() []string { return []string{testKey} }, Origin: testOrigin})
	defer func() {
		if err := d.Close(context.Background()); err != nil {
			b.Error(err)
		}
	}()
	var next atomic.Int64
	payload := []byte("hello, this is a chat message of a typical size")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		in := ConnectionInfo{Hub: testHub, ConnectionID: "bench-" + strconv.FormatInt(next.Add(1), 10)}
		for pb.Next() {
			res, err := d.UserEvent(context.Background(), in, "message", webpubsub.ContentTypeText, payload)
			if err != nil || len(res.Data) != len(payload) {
				b.Errorf("UserEvent = %v, %v", res, err)
				return
			}
		}
	})
}

// BenchmarkConnectedFanIn measures queuing and delivering connected/disconnected pairs for
// many connections (the non-blocking path).
func BenchmarkConnectedFanIn(b *testing.B) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := NewDispatcher(Config{Store: storeWith(b, srv.URL+"/{event}"), AccessKeys: func() []string { return []string{testKey} }})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		in := ConnectionInfo{Hub: testHub, ConnectionID: "c" + strconv.Itoa(i)}
		d.Connected(in)
		d.Disconnected(in, "")
	}
	if err := d.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if n := got.Load(); n != int64(2*b.N) {
		b.Fatalf("handler got %d events, want %d", n, 2*b.N)
	}
}
