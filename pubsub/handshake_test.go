// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chathub/chathub/pubsub/auth"
	"github.com/chathub/chathub/webpubsub"
)

// signToken signs claims with key.
func signToken(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientHandshakeAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	host := e.endpoint.Host
	aud := "http://" + host + "/client/hubs/" + testHub
	exp := time.Now().Add(time.Hour).Unix()
	base := "ws://" + host
	tests := map[string]struct {
		url        string
		header     http.Header
		wantStatus int // 0 = the upgrade succeeds
	}{
		"a token in the query is accepted": {
			url: base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud, "exp": exp})},
		"a bearer header is accepted": {
			url:    base + "/client/hubs/chat",
			header: http.Header{"Authorization": {"Bearer " + signToken(t, testKey, jwt.MapClaims{"aud": aud, "exp": exp})}}},
		"the secondary key is accepted": {
			url: base + "/client/hubs/chat?access_token=" + signToken(t, testKey2, jwt.MapClaims{"aud": aud, "exp": exp})},
		"the hub may come from the query": {
			url: base + "/client/?hub=chat&access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud, "exp": exp})},
		"a wss audience matches an http endpoint": {
			url: base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": "wss://" + host + "/client/hubs/chat", "exp": exp})},
		"an audience with a query still matches": {
			url: base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud + "?x=1", "exp": exp})},
		"a token expired within the clock skew is accepted": {
			url: base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud, "exp": time.Now().Add(-2 * time.Minute).Unix()})},
		"no token is refused": {
			url: base + "/client/hubs/chat", wantStatus: http.StatusUnauthorized},
		"a token signed with another key is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, "another-key-that-is-long-enough-000000", jwt.MapClaims{"aud": aud, "exp": exp}),
			wantStatus: http.StatusUnauthorized},
		"an expired token is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud, "exp": time.Now().Add(-10 * time.Minute).Unix()}),
			wantStatus: http.StatusUnauthorized},
		"a token without exp is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud}),
			wantStatus: http.StatusUnauthorized},
		"a token for another hub is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": "http://" + host + "/client/hubs/other", "exp": exp}),
			wantStatus: http.StatusUnauthorized},
		"a token for another host is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": "http://evil.example/client/hubs/chat", "exp": exp}),
			wantStatus: http.StatusUnauthorized},
		"an ftp audience is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": "ftp://" + host + "/client/hubs/chat", "exp": exp}),
			wantStatus: http.StatusUnauthorized},
		"an audience with a suffix glued to the hub is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud + "Suffix", "exp": exp}),
			wantStatus: http.StatusUnauthorized},
		"a whitespace group claim is refused": {
			url:        base + "/client/hubs/chat?access_token=" + signToken(t, testKey, jwt.MapClaims{"aud": aud, "exp": exp, "webpubsub.group": []string{" "}}),
			wantStatus: http.StatusBadRequest},
		"an invalid hub name is refused": {
			url: base + "/client/hubs/9bad?access_token=x", wantStatus: http.StatusBadRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, resp, err := tryDial(tc.url, tc.header)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("dial failed: %v (%v)", err, resp != nil && resp.StatusCode != 0)
				}
				_ = c.Close()
				return
			}
			if err == nil {
				_ = c.Close()
				t.Fatalf("dial succeeded, want HTTP %d", tc.wantStatus)
			}
			if resp == nil || resp.StatusCode != tc.wantStatus {
				t.Fatalf("got %v, want HTTP %d", resp, tc.wantStatus)
			}
		})
	}
}

func TestConnectedMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := map[string]struct {
		subprotocol string
		reliable    bool
	}{
		"the JSON subprotocol gets no reconnection token":    {webpubsub.SubprotocolJSON, false},
		"the reliable subprotocol gets a reconnection token": {webpubsub.SubprotocolJSONReliable, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, m := e.connectJSON(t, tc.subprotocol, webpubsub.ClientTokenOptions{UserID: "alice"})
			if m["userId"] != "alice" || m["connectionId"] == "" {
				t.Fatalf("connected message %v lacks userId or connectionId", m)
			}
			if _, ok := m["reconnectionToken"]; ok != tc.reliable {
				t.Fatalf("reconnectionToken present = %v, want %v", ok, tc.reliable)
			}
		})
	}
}

func TestUnknownSubprotocolIsRaw(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := dialRegistered(t, e, "raw", webpubsub.ClientTokenOptions{}, "protobuf.webpubsub.azure.v1")
	if c.ws.Subprotocol() != "" {
		t.Fatalf("negotiated %q, want none", c.ws.Subprotocol())
	}
	if err := e.rest.SendToAll(ctx(t), webpubsub.TextContent("hi"), nil); err != nil {
		t.Fatal(err)
	}
	if _, data := c.read(); string(data) != "hi" {
		t.Fatalf("raw client got %q, want hi", data)
	}
}

func FuzzVerifyToken(f *testing.F) {
	s := &Server{cfg: Config{Endpoint: &url.URL{Scheme: "http", Host: "h"}, Now: time.Now}}
	if err := s.SetAccessKeys([]string{testKey}); err != nil {
		f.Fatal(err)
	}
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": "http://h/client/hubs/chat", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testKey))
	for _, seed := range []string{good, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", good + "x"} {
		f.Add(seed, "http://h/client/hubs/chat")
	}
	f.Fuzz(func(t *testing.T, token, aud string) {
		r, err := http.NewRequest(http.MethodGet, "http://h/client/hubs/chat", nil)
		if err != nil {
			t.Fatal(err)
		}
		claims, err := s.verifyToken(token, r, clientPath("chat")...)
		if err == nil && claims == nil {
			t.Fatal("no error and no claims")
		}
		if err != nil && len(token) > 8 && containsToken(err.Error(), token) {
			t.Fatal("the error message contains the token")
		}
		_ = auth.AudienceMatches(aud, []string{"h"}, clientPath("chat"))
		_ = tokenClaimsMap(token)
	})
}

func containsToken(msg, token string) bool {
	for i := 0; i+len(token) <= len(msg); i++ {
		if msg[i:i+len(token)] == token {
			return true
		}
	}
	return false
}
