// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/pubsub"
	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// armMode is how a fakeARM answers.
type armMode int32

const (
	// armHealthy passes every request to the PubSub service.
	armHealthy armMode = iota
	// armFlaky answers 500 with a message that changes at every request
	// (a request ID, a time, a client address), as ARM does.
	armFlaky
	// armDown answers 503.
	armDown
	// armHang accepts requests and never answers (until released).
	armHang
	// armThrottled answers 429 with Retry-After: 60.
	armThrottled
	// armFinishLater is armNeverFinish whose operations succeed at their
	// third poll.
	armFinishLater
	// armNeverFinish applies hub-settings PUTs but answers 201 with an
	// Azure-AsyncOperation that stays Running forever.
	armNeverFinish
)

// fakeARM is one more Azure Web PubSub resource behind its own ARM-shaped
// gateway, signed in through the suite's local Microsoft Entra (it accepts
// the token suite.azure issues), in a mode a test sets. It counts what
// reaches it.
type fakeARM struct {
	srv   *httptest.Server
	emu   *pubsub.Server
	store *settings.Store
	token string
	key   string
	mode  atomic.Int32
	// calls counts every request on the resource; listKeys and opPolls
	// count listKeys requests and operation polls.
	calls, listKeys, opPolls atomic.Int64
	release                  chan struct{}
	releaseOnce              sync.Once
	seq                      atomic.Int64
}

// newFakeARM starts a resource in mode; it stops with the test.
func newFakeARM(t *testing.T, mode armMode) *fakeARM {
	t.Helper()
	a := &fakeARM{token: suite.azure.token, key: randomHex(32), store: settings.NewStore(), release: make(chan struct{})}
	a.mode.Store(int32(mode))
	a.srv = httptest.NewUnstartedServer(nil)
	a.srv.Start()
	endpoint, _ := url.Parse(a.srv.URL)
	emu, err := pubsub.New(pubsub.Config{Endpoint: endpoint, AccessKeys: []string{a.key}, Settings: a.store})
	if err != nil {
		t.Fatal(err)
	}
	a.emu = emu
	a.srv.Config.Handler = http.HandlerFunc(a.serve)
	t.Cleanup(func() {
		a.unhang()
		a.srv.CloseClientConnections()
		a.srv.Close()
	})
	return a
}

// unhang releases hung requests; later ones are answered 503.
func (a *fakeARM) unhang() {
	a.releaseOnce.Do(func() { close(a.release) })
}

func (a *fakeARM) setMode(m armMode) { a.mode.Store(int32(m)) }

// ResourceID is the ARM ID of the resource.
func (a *fakeARM) ResourceID() string {
	return "/subscriptions/sub-2/resourceGroups/rg-chat/providers/Microsoft.SignalRService/webPubSub/awps-" + strings.TrimPrefix(a.srv.URL, "http://127.0.0.1:")
}

func (a *fakeARM) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/subscriptions/") {
		a.emu.Handler().ServeHTTP(w, r)
		return
	}
	a.calls.Add(1)
	if strings.HasSuffix(r.URL.Path, "/listKeys") {
		a.listKeys.Add(1)
	}
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		http.Error(w, `{"error":{"code":"InvalidAuthenticationToken","message":"not the Entra token"}}`, http.StatusUnauthorized)
		return
	}
	switch armMode(a.mode.Load()) {
	case armFlaky:
		n := a.seq.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, `{"error":{"code":"InternalServerError","message":"An error occurred. RequestId: %08x-aaaa-bbbb-cccc-%012x, Timestamp: %s, client 127.0.0.1:%d"}}`,
			n, n, time.Now().UTC().Format(time.RFC3339Nano), 40000+n)
		return
	case armDown:
		http.Error(w, `{"error":{"code":"ServiceUnavailable","message":"down for the test"}}`, http.StatusServiceUnavailable)
		return
	case armThrottled:
		w.Header().Set("Retry-After", "60")
		http.Error(w, `{"error":{"code":"TooManyRequests","message":"slow down"}}`, http.StatusTooManyRequests)
		return
	case armHang:
		select {
		case <-r.Context().Done():
		case <-a.release:
			http.Error(w, `{"error":{"code":"ServiceUnavailable","message":"released"}}`, http.StatusServiceUnavailable)
		}
		return
	case armNeverFinish, armFinishLater:
		if strings.Contains(r.URL.Path, "/operationStatuses/") {
			n := a.opPolls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			if armMode(a.mode.Load()) == armFinishLater && n >= 3 {
				_, _ = w.Write([]byte(`{"status":"Succeeded"}`))
				return
			}
			_, _ = w.Write([]byte(`{"status":"Running"}`))
			return
		}
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/hubs/") {
			rec := httptest.NewRecorder()
			a.forward(rec, r)
			if rec.Code/100 != 2 {
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
			op := fmt.Sprintf("%s/operationStatuses/op-%d?api-version=%s", strings.SplitN(r.URL.Path, "/hubs/", 2)[0], a.seq.Add(1), webpubsub.ARMAPIVersion)
			w.Header().Set("Azure-AsyncOperation", "http://"+r.Host+op)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
	}
	a.forward(w, r)
}

// forward re-signs the request for the PubSub service's ARM-shaped API.
func (a *fakeARM) forward(w http.ResponseWriter, r *http.Request) {
	tok, err := webpubsub.ServiceToken(a.key, "http://"+r.Host+r.URL.Path, time.Hour, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	a.emu.Handler().ServeHTTP(w, r)
}
