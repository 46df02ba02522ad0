// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// decodeClaims returns the JSON claims of a JWT without verifying it.
func decodeClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decoding claims: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("claims are not JSON: %v", err)
	}
	return m
}

func TestClientAccessFor(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		endpoint   string
		hub        string
		opts       ClientTokenOptions
		wantURL    string // without the token
		wantClaims TokenClaims
		wantErr    string
	}{
		"an https endpoint gives a wss URL and an https audience": {
			endpoint: "https://x.webpubsub.azure.com", hub: "chat",
			opts:    ClientTokenOptions{UserID: "alice", Roles: []string{RoleJoinLeaveGroup, RoleSendToGroup + ".room"}, Groups: []string{"room"}},
			wantURL: "wss://x.webpubsub.azure.com/client/hubs/chat?access_token=",
			wantClaims: TokenClaims{
				Audience: "https://x.webpubsub.azure.com/client/hubs/chat", Subject: "alice",
				Roles: []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.room"}, Groups: []string{"room"},
				ExpiresAt: testNow.Add(time.Hour), IssuedAt: testNow,
			},
		},
		"an http endpoint with a port gives a ws URL and keeps the port": {
			endpoint: "http://127.0.0.1:8080", hub: "Chat_1", opts: ClientTokenOptions{TTL: 5 * time.Minute},
			wantURL: "ws://127.0.0.1:8080/client/hubs/Chat_1?access_token=",
			wantClaims: TokenClaims{
				Audience: "http://127.0.0.1:8080/client/hubs/Chat_1", ExpiresAt: testNow.Add(5 * time.Minute), IssuedAt: testNow,
			},
		},
		"an invalid hub is rejected":           {endpoint: "https://x", hub: "a/b", wantErr: "hub name"},
		"an invalid group is rejected":         {endpoint: "https://x", hub: "chat", opts: ClientTokenOptions{Groups: []string{" "}}, wantErr: "whitespace"},
		"an empty role is rejected":            {endpoint: "https://x", hub: "chat", opts: ClientTokenOptions{Roles: []string{""}}, wantErr: "role"},
		"a role that is not UTF-8 is rejected": {endpoint: "https://x", hub: "chat", opts: ClientTokenOptions{Roles: []string{"\xff"}}, wantErr: "not valid UTF-8"},
		"a user that is not UTF-8 is rejected": {endpoint: "https://x", hub: "chat", opts: ClientTokenOptions{UserID: "\xff"}, wantErr: "not valid UTF-8"},
		"a negative TTL is rejected":           {endpoint: "https://x", hub: "chat", opts: ClientTokenOptions{TTL: -time.Second}, wantErr: "negative"},
		"a ws endpoint is rejected":            {endpoint: "ws://x", hub: "chat", wantErr: "not http or https"},
		"an endpoint without host is rejected": {endpoint: "https:///", hub: "chat", wantErr: "no host"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ca, err := ClientAccessFor(mustURL(t, tc.endpoint), testKey, tc.hub, tc.opts, testNow)
			checkErr(t, err, tc.wantErr)
			if err != nil {
				return
			}
			if ca.URL != tc.wantURL+ca.Token {
				t.Errorf("URL = %q, want %q + token", ca.URL, tc.wantURL)
			}
			if !ca.ExpiresAt.Equal(tc.wantClaims.ExpiresAt) {
				t.Errorf("ExpiresAt = %v, want %v", ca.ExpiresAt, tc.wantClaims.ExpiresAt)
			}
			claims, err := ParseToken(ca.Token, []string{testKey}, testNow, 0)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if diff := cmp.Diff(&tc.wantClaims, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			raw := decodeClaims(t, ca.Token)
			if _, ok := raw["sub"]; ok != (tc.opts.UserID != "") {
				t.Errorf("sub present = %v, want %v", ok, tc.opts.UserID != "")
			}
			if _, ok := raw["aud"].(string); !ok {
				t.Errorf("aud is %T, want a string as the SDKs write it", raw["aud"])
			}
			if _, ok := raw["role"].([]any); ok != (len(tc.opts.Roles) > 0) {
				t.Errorf("role is an array = %v, want %v", ok, len(tc.opts.Roles) > 0)
			}
		})
	}
}

func TestClientAccessForRejectsAnEmptyKey(t *testing.T) {
	t.Parallel()
	_, err := ClientAccessFor(mustURL(t, "https://x"), "", "chat", ClientTokenOptions{}, testNow)
	checkErr(t, err, "access key is empty")
}

func TestServiceToken(t *testing.T) {
	t.Parallel()
	const aud = "https://x.webpubsub.azure.com/api/hubs/chat/:send?api-version=2024-12-01"
	tests := map[string]struct {
		key, aud string
		ttl      time.Duration
		wantExp  time.Time
		wantErr  string
	}{
		"a zero TTL means one hour":     {key: testKey, aud: aud, wantExp: testNow.Add(time.Hour)},
		"an explicit TTL is used":       {key: testKey, aud: aud, ttl: 10 * time.Minute, wantExp: testNow.Add(10 * time.Minute)},
		"an empty key is rejected":      {aud: aud, wantErr: "access key is empty"},
		"an empty audience is rejected": {key: testKey, wantErr: "audience is empty"},
		"a negative TTL is rejected":    {key: testKey, aud: aud, ttl: -time.Minute, wantErr: "negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok, err := ServiceToken(tc.key, tc.aud, tc.ttl, testNow)
			checkErr(t, err, tc.wantErr)
			if err != nil {
				return
			}
			c, err := ParseToken(tok, []string{"wrong", tc.key}, testNow, 0)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if c.Audience != tc.aud || !c.ExpiresAt.Equal(tc.wantExp) {
				t.Errorf("aud %q exp %v, want %q %v", c.Audience, c.ExpiresAt, tc.aud, tc.wantExp)
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	t.Parallel()
	good, err := ServiceToken(testKey, "https://x/api/hubs/chat", time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	noneAlg := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"a","exp":9999999999}`)) + "."
	noExp := signTest(t, `{"aud":"a"}`)
	roleString := signTest(t, `{"aud":"a","exp":9999999999,"role":"webpubsub.sendToGroup","webpubsub.group":"g"}`)
	badRole := signTest(t, `{"aud":"a","exp":9999999999,"role":{"x":1}}`)
	tests := map[string]struct {
		token     string
		keys      []string
		now       time.Time
		wantRoles []string
		wantErr   string
	}{
		"a valid token parses":                      {token: good, keys: []string{testKey}, now: testNow},
		"the second key verifies":                   {token: good, keys: []string{"a", testKey}, now: testNow},
		"a string role claim becomes a list":        {token: roleString, keys: []string{testKey}, now: testNow, wantRoles: []string{"webpubsub.sendToGroup"}},
		"a token past exp is rejected":              {token: good, keys: []string{testKey}, now: testNow.Add(2 * time.Hour), wantErr: "expired"},
		"a token signed by another key is rejected": {token: good, keys: []string{"other"}, now: testNow, wantErr: "signature is invalid"},
		"alg none is rejected":                      {token: noneAlg, keys: []string{testKey}, now: testNow, wantErr: "invalid token"},
		"a token without exp is rejected":           {token: noExp, keys: []string{testKey}, now: testNow, wantErr: "exp claim is required"},
		"an object role claim is rejected":          {token: badRole, keys: []string{testKey}, now: testNow, wantErr: "invalid token"},
		"an empty token is rejected":                {token: "", keys: []string{testKey}, wantErr: "empty"},
		"garbage is rejected":                       {token: "a.b.c", keys: []string{testKey}, wantErr: "invalid token"},
		"a huge token is rejected":                  {token: strings.Repeat("a", 20000), keys: []string{testKey}, wantErr: "limit"},
		"no keys reject every token":                {token: good, now: testNow, wantErr: "no access key"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseToken(tc.token, tc.keys, tc.now, time.Minute)
			checkErr(t, err, tc.wantErr)
			if err != nil {
				if tc.token != "" && strings.Contains(err.Error(), tc.token) {
					t.Fatal("error contains the token")
				}
				return
			}
			if tc.wantRoles != nil {
				if diff := cmp.Diff(tc.wantRoles, c.Roles); diff != "" {
					t.Errorf("roles (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// signTest signs a raw JSON claims object with testKey.
func signTest(t testing.TB, claims string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(claims), &m); err != nil {
		t.Fatal(err)
	}
	tok, err := signHS256(testKey, mapClaims(m))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mapClaims adapts a raw claims map for signHS256.
func mapClaims(m map[string]any) jwt.MapClaims { return jwt.MapClaims(m) }

func TestClientAccessRefusesTokensOverTheLimit(t *testing.T) {
	groups := make([]string, 40)
	for i := range groups {
		groups[i] = strings.Repeat("g", 1000) + strconv.Itoa(i)
	}
	_, err := ClientAccessFor(&url.URL{Scheme: "http", Host: "127.0.0.1:8080"}, "key", "chat",
		ClientTokenOptions{UserID: "u", Groups: groups}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "the limit is") {
		t.Fatalf("err = %v, want the size limit", err)
	}
}
