// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"Endpoint=https://x.webpubsub.azure.com;AccessKey=" + testKey + ";Version=1.0;",
		"endpoint=http://localhost;port=8080;accesskey=k",
		"Endpoint=x.example.com;AccessKey=a=b=c",
		"Endpoint=http://[::1]:80;Port=9000;AccessKey=k;",
		";;;=;",
		"Endpoint=https://u:p@x/path?q#f;AccessKey=k",
		"AccessKey=k;Endpoint=%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cs, err := ParseConnectionString(s)
		if err != nil {
			return
		}
		if cs.AccessKey == "" || cs.Endpoint == nil || cs.Endpoint.Host == "" {
			t.Fatalf("accepted %q with an empty part", s)
		}
		if cs.AccessKey != "***" && strings.Contains(cs.String(), "AccessKey="+cs.AccessKey+";") {
			t.Fatal("String() shows the access key")
		}
		again, err := ParseConnectionString(cs.Format())
		if err != nil {
			t.Fatalf("Format() of an accepted string does not parse: %v", err)
		}
		if again.Endpoint.String() != cs.Endpoint.String() || again.AccessKey != cs.AccessKey {
			t.Fatalf("round trip changed %q into %q", cs, again)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	good, err := ServiceToken(testKey, "https://x/api/hubs/chat", time.Hour, testNow)
	if err != nil {
		f.Fatal(err)
	}
	ca, err := ClientAccessFor(&url.URL{Scheme: "https", Host: "x"}, testKey, "chat", ClientTokenOptions{UserID: "u", Roles: []string{"r"}, Groups: []string{"g"}}, testNow)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, ca.Token, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjp7fX0.x"} {
		f.Add(s, testKey)
	}
	f.Fuzz(func(t *testing.T, token, key string) {
		c, err := ParseToken(token, []string{key}, testNow, time.Minute)
		if err != nil {
			if len(token) > 16 && strings.Contains(err.Error(), token) {
				t.Fatal("error contains the token")
			}
			return
		}
		if c.ExpiresAt.IsZero() {
			t.Fatal("accepted a token without exp")
		}
		if c.ExpiresAt.Before(testNow.Add(-time.Minute)) {
			t.Fatal("accepted an expired token")
		}
	})
}

func FuzzClientTokenRoundTrip(f *testing.F) {
	f.Add("chat", "alice", "webpubsub.joinLeaveGroup", "room 1", testKey)
	f.Add("Hub_1.[x]", "", "", "", "k")
	f.Add("a", "ü\x00", "r,s", "g\"h", "=;")
	f.Fuzz(func(t *testing.T, hub, user, role, group, key string) {
		opts := ClientTokenOptions{UserID: user}
		if role != "" {
			opts.Roles = []string{role, role + ".x"}
		}
		if group != "" {
			opts.Groups = []string{group}
		}
		ca, err := ClientAccessFor(&url.URL{Scheme: "http", Host: "127.0.0.1:8080"}, key, hub, opts, testNow)
		if err != nil {
			return
		}
		u, err := url.Parse(ca.URL)
		if err != nil {
			t.Fatalf("client URL does not parse: %v", err)
		}
		if u.Query().Get("access_token") != ca.Token || u.Path != "/client/hubs/"+hub {
			t.Fatalf("client URL %q does not carry the token or the hub", ca.URL)
		}
		c, err := ParseToken(ca.Token, []string{key}, testNow, 0)
		if err != nil {
			t.Fatalf("own token does not parse: %v", err)
		}
		if c.Audience != "http://127.0.0.1:8080/client/hubs/"+hub || c.Subject != user ||
			!slices.Equal(c.Roles, opts.Roles) || !slices.Equal(c.Groups, opts.Groups) {
			t.Fatalf("claims %+v do not match %+v", c, opts)
		}
	})
}

func FuzzVerifySignature(f *testing.F) {
	f.Add("sha256=7767effcb3946f3e1de039df4b986ef02c110b1469d02c0a06f41b3b727ab561", "0f9c97a2f0bf4706afe87a14e0797b11", "7aab239577fd4f24bc919802fb629f5f")
	f.Add(",,, ,sha256=", "", "k")
	f.Fuzz(func(t *testing.T, header, conn, key string) {
		_ = VerifySignature(header, conn, []string{key, ""})
		if key != "" && !VerifySignature(SignatureHeader([]string{"other", key}, conn), conn, []string{key}) {
			t.Fatal("a header made with the key does not verify")
		}
	})
}
