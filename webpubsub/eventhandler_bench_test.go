// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// BenchmarkEventHandler measures the handler alone (no network): signature check over two
// keys, header and state decoding, dispatch and response.
func BenchmarkEventHandler(b *testing.B) {
	h, err := webpubsub.NewEventHandler(webpubsub.EventHandlerOptions{
		Hub:            ehHub,
		AccessKeys:     func() []string { return []string{ehKey1, ehKey2} },
		AllowedOrigins: []string{ehOrigin},
		OnConnect: func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			return &webpubsub.ConnectResponse{UserID: "alice", Groups: []string{"lobby"}}, nil
		},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			if err := req.Context.SetState("last", len(req.Data)); err != nil {
				return nil, err
			}
			return &webpubsub.UserEventResponse{Data: req.Data, ContentType: req.ContentType}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	sig := webpubsub.SignatureHeader([]string{ehKey1, ehKey2}, ehConnID)
	state := base64.StdEncoding.EncodeToString([]byte(`{"profile":{"name":"alice","room":"lobby"},"last":12}`))
	message := bytes.Repeat([]byte("x"), 1024)
	connectBody := []byte(`{"claims":{"sub":["alice"],"exp":["1700000000"]},"query":{"access_token":["t"]},"headers":{"User-Agent":["bench"]},"subprotocols":["json.webpubsub.azure.v1"]}`)
	newRequest := func(ceType, eventName, contentType string, body []byte, withState bool) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/eventhandler", bytes.NewReader(body))
		r.Header.Set(webpubsub.HeaderSpecVersion, "1.0")
		r.Header.Set(webpubsub.HeaderType, ceType)
		r.Header.Set(webpubsub.HeaderConnectionID, ehConnID)
		r.Header.Set(webpubsub.HeaderHub, ehHub)
		r.Header.Set(webpubsub.HeaderEventName, eventName)
		r.Header.Set(webpubsub.HeaderSignature, sig)
		r.Header.Set(webpubsub.HeaderUserID, "alice")
		r.Header.Set(webpubsub.HeaderTime, time.Now().UTC().Format(time.RFC3339))
		r.Header.Set("Content-Type", contentType)
		if withState {
			r.Header.Set(webpubsub.HeaderConnectionState, state)
		}
		return r
	}
	cases := map[string]struct {
		ceType, eventName, contentType string
		body                           []byte
		withState                      bool
		want                           int
	}{
		"connect":                    {webpubsub.EventTypeConnect, "connect", "application/json", connectBody, false, http.StatusOK},
		"user event 1KiB with state": {webpubsub.EventTypeUserPrefix + "message", "message", "text/plain", message, true, http.StatusOK},
		"connected":                  {webpubsub.EventTypeConnected, "connected", "application/json", []byte(`{}`), true, http.StatusNoContent},
	}
	for name, c := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, newRequest(c.ceType, c.eventName, c.contentType, c.body, c.withState))
				if rec.Code != c.want {
					b.Fatalf("status %d, want %d: %s", rec.Code, c.want, rec.Body)
				}
			}
		})
	}
}
