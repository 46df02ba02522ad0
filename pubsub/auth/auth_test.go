// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testKey = "0123456789abcdef0123456789abcdef-test"

func TestAudienceMatches(t *testing.T) {
	t.Parallel()
	paths := []string{"/api/hubs/chat/:send"}
	tests := map[string]struct {
		aud, host string
		ok        bool
	}{
		"the same URL":                             {"https://svc.example/api/hubs/chat/:send", "svc.example", true},
		"http instead of https":                    {"http://svc.example/api/hubs/chat/:send", "svc.example", true},
		"wss instead of https":                     {"wss://svc.example/api/hubs/chat/:send", "svc.example", true},
		"a trailing slash":                         {"https://svc.example/api/hubs/chat/:send/", "svc.example", true},
		"upper-case host":                          {"https://SVC.example/api/hubs/chat/:send", "x", true},
		"the default port written out":             {"https://svc.example:443/api/hubs/chat/:send", "x", true},
		"the request host instead of the endpoint": {"http://127.0.0.1:9/api/hubs/chat/:send", "127.0.0.1:9", true},
		"a percent-encoded path":                   {"https://svc.example/api/hubs/chat/%3Asend", "svc.example", true},
		"a query is ignored":                       {"https://svc.example/api/hubs/chat/:send?api-version=1", "svc.example", true},
		"another path":                             {"https://svc.example/api/hubs/chat", "svc.example", false},
		"another host":                             {"https://other.example/api/hubs/chat/:send", "svc.example", false},
		"another port":                             {"https://svc.example:8443/api/hubs/chat/:send", "svc.example", false},
		"an ftp scheme":                            {"ftp://svc.example/api/hubs/chat/:send", "svc.example", false},
		"not a URL":                                {"::", "svc.example", false},
		"user info":                                {"https://u@svc.example/api/hubs/chat/:send", "svc.example", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hosts := []string{tc.host, "svc.example:443"}
			if got := AudienceMatches(tc.aud, hosts, paths); got != tc.ok {
				t.Fatalf("AudienceMatches(%q) = %v, want %v", tc.aud, got, tc.ok)
			}
		})
	}
}

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const aud = "http://svc.example/client/hubs/chat"
	exp := now.Add(time.Hour).Unix()
	v := &Verifier{
		AccessKeys: func() []string { return []string{"another-key-another-key-another-key", testKey} },
		Endpoint:   &url.URL{Scheme: "http", Host: "svc.example"},
		Now:        func() time.Time { return now },
	}
	tests := map[string]struct {
		token   string
		wantErr error // nil: valid; errAny: some error
	}{
		"a token signed with the second key is accepted": {sign(t, jwt.SigningMethodHS256, []byte(testKey), jwt.MapClaims{"aud": aud, "exp": exp}), nil},
		"an empty token is refused as missing":           {"", ErrNoToken},
		"an alg none token is refused":                   {sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"aud": aud, "exp": exp}), errAny},
		"an HS512 token is refused":                      {sign(t, jwt.SigningMethodHS512, []byte(testKey), jwt.MapClaims{"aud": aud, "exp": exp}), errAny},
		"a token without exp is refused":                 {sign(t, jwt.SigningMethodHS256, []byte(testKey), jwt.MapClaims{"aud": aud}), errAny},
		"an expired token is refused":                    {sign(t, jwt.SigningMethodHS256, []byte(testKey), jwt.MapClaims{"aud": aud, "exp": now.Add(-time.Hour).Unix()}), errAny},
		"a token signed with an unknown key is refused":  {sign(t, jwt.SigningMethodHS256, []byte("not-the-key-not-the-key-not-the-key"), jwt.MapClaims{"aud": aud, "exp": exp}), errAny},
		"a token for another hub is refused":             {sign(t, jwt.SigningMethodHS256, []byte(testKey), jwt.MapClaims{"aud": "http://svc.example/client/hubs/other", "exp": exp}), ErrAudience},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/client/hubs/chat", nil)
			if err != nil {
				t.Fatal(err)
			}
			claims, err := v.Verify(tc.token, r, "/client/hubs/chat")
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.wantErr == nil && claims.Audience != aud:
				t.Fatalf("audience %q, want %q", claims.Audience, aud)
			case tc.wantErr != nil && err == nil:
				t.Fatal("Verify accepted the token")
			case tc.wantErr != nil && !errors.Is(tc.wantErr, errAny) && !errors.Is(err, tc.wantErr):
				t.Fatalf("Verify: %v, want %v", err, tc.wantErr)
			case err != nil && tc.token != "" && strings.Contains(err.Error(), tc.token):
				t.Fatal("the error message contains the token")
			}
		})
	}
}

var errAny = errors.New("any error")

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ header, want string }{
		"a bearer header gives its token": {"Bearer abc", "abc"},
		"the scheme is case-insensitive":  {"bearer abc ", "abc"},
		"a basic header gives nothing":    {"Basic abc", ""},
		"a bare scheme gives nothing":     {"Bearer", ""},
		"no header at all gives nothing":  {"", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://h/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got := BearerToken(r); got != tc.want {
				t.Fatalf("BearerToken = %q, want %q", got, tc.want)
			}
		})
	}
}
