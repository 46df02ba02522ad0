// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func BenchmarkClientAccessFor(b *testing.B) {
	ep := &url.URL{Scheme: "https", Host: "x.webpubsub.azure.com"}
	opts := ClientTokenOptions{UserID: "alice", Roles: []string{RoleJoinLeaveGroup, RoleSendToGroup}, Groups: []string{"room"}}
	for b.Loop() {
		if _, err := ClientAccessFor(ep, testKey, "chat", opts, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseToken(b *testing.B) {
	tok, err := ServiceToken(testKey, "https://x/api/hubs/chat/:send?api-version=2024-12-01", time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	keys := []string{"secondary-key", testKey}
	for b.Loop() {
		if _, err := ParseToken(tok, keys, time.Now(), time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifySignature(b *testing.B) {
	keys := []string{testKey, "secondary-key"}
	h := SignatureHeader(keys, "0f9c97a2f0bf4706afe87a14e0797b11")
	for b.Loop() {
		if !VerifySignature(h, "0f9c97a2f0bf4706afe87a14e0797b11", keys) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkSendToGroup measures one signed REST call over loopback to a server that only
// answers 202.
func BenchmarkSendToGroup(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	cs, err := ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=" + testKey)
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewClient(cs, "chat", nil)
	if err != nil {
		b.Fatal(err)
	}
	msg := TextContent("hello, room")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SendToGroup(ctx, "room", msg, nil); err != nil {
			b.Fatal(err)
		}
	}
}
