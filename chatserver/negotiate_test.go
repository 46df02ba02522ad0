// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// getNegotiate calls /negotiate with the raw query and optional headers.
func getNegotiate(t *testing.T, base, rawQuery string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/negotiate?"+rawQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// parseAccessURL decodes a /negotiate body and verifies its token with the
// access key, returning the URL and the token's claims.
func parseAccessURL(t *testing.T, body string) (*url.URL, jwt.MapClaims) {
	t.Helper()
	var nr struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(body), &nr); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	u, err := url.Parse(nr.URL)
	if err != nil {
		t.Fatalf("parsing url: %v", err)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(u.Query().Get("access_token"), claims,
		func(*jwt.Token) (any, error) { return []byte(testKey), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("the token does not verify with the access key: %v", err)
	}
	return u, claims
}

func TestNegotiateIssuesATokenForTheUser(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	cfg := testConfig(rs.connectionString())
	cfg.TokenTTL = 30 * time.Minute
	_, ts := startChat(t, cfg)

	tests := map[string]struct {
		id string
	}{
		"a plain name is accepted":                {id: "alice"},
		"a name with spaces and accents is kept":  {id: "Zoë Doe"},
		"a name of exactly 64 characters is fine": {id: strings.Repeat("é", 64)},
		"a name with html is just a name":         {id: "<b>bob</b>"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			before := time.Now()
			resp, body := getNegotiate(t, ts.URL, "id="+url.QueryEscape(tc.id), nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			u, claims := parseAccessURL(t, body)
			svc, _ := url.Parse(rs.ts.URL)
			if u.Scheme != "ws" || u.Host != svc.Host || u.Path != "/client/hubs/chat" {
				t.Errorf("url %s://%s%s, want ws://%s/client/hubs/chat", u.Scheme, u.Host, u.Path, svc.Host)
			}
			if sub, _ := claims.GetSubject(); sub != tc.id {
				t.Errorf("sub %q, want %q", sub, tc.id)
			}
			aud, _ := claims.GetAudience()
			if want := rs.ts.URL + "/client/hubs/chat"; len(aud) != 1 || aud[0] != want {
				t.Errorf("aud %v, want [%s]", aud, want)
			}
			exp, _ := claims.GetExpirationTime()
			if exp == nil || exp.Before(before.Add(29*time.Minute)) || exp.After(time.Now().Add(31*time.Minute)) {
				t.Errorf("exp %v, want about 30 minutes from now", exp)
			}
			if r, ok := claims["role"]; ok {
				t.Errorf("the token grants roles %v; the chat needs none", r)
			}
			if g, ok := claims["webpubsub.group"]; ok {
				t.Errorf("the token joins groups %v; the chat needs none", g)
			}
		})
	}
}

func TestNegotiateRefusesBadUserIDs(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	_, ts := startChat(t, testConfig(rs.connectionString()))

	tests := map[string]struct {
		query    string
		wantBody string
	}{
		"no id parameter says the user id is missing":   {query: "", wantBody: "missing user id"},
		"another parameter only is still missing an id": {query: "name=alice", wantBody: "missing user id"},
		"an empty id is refused":                        {query: "id=", wantBody: "user id must not be empty"},
		"an id of 65 characters is too long":            {query: "id=" + strings.Repeat("a", 65), wantBody: "at most 64 characters"},
		"a newline is a control character":              {query: "id=" + url.QueryEscape("al\nice"), wantBody: "control characters"},
		"a NUL is a control character":                  {query: "id=al%00ice", wantBody: "control characters"},
		"a DEL is a control character":                  {query: "id=al%7Fice", wantBody: "control characters"},
		"invalid UTF-8 is refused":                      {query: "id=%ff%fe", wantBody: "valid UTF-8"},
		"only spaces is refused":                        {query: "id=%20%20", wantBody: "only spaces"},
		"a right-to-left override could fake a name":    {query: "id=" + url.QueryEscape("mallory\u202Eecila"), wantBody: "text-direction"},
		"a bidi isolate could fake a name":              {query: "id=" + url.QueryEscape("\u2067bob"), wantBody: "text-direction"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, body := getNegotiate(t, ts.URL, tc.query, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (body %q)", resp.StatusCode, body)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q, want it to contain %q", body, tc.wantBody)
			}
		})
	}
}

func TestNegotiateRefusesOtherMethods(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	_, ts := startChat(t, testConfig(rs.connectionString()))
	resp, err := http.Post(ts.URL+"/negotiate?id=alice", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status %d, want 405", resp.StatusCode)
	}
}

func TestNegotiateInProxyModeUsesThePageOrigin(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	cfg := testConfig(rs.connectionString())
	cfg.ProxyClient = true
	_, ts := startChat(t, cfg)
	chatHost := strings.TrimPrefix(ts.URL, "http://")

	tests := map[string]struct {
		headers    map[string]string
		wantScheme string
		wantHost   string
	}{
		"a direct request gets ws on the request's host": {
			wantScheme: "ws", wantHost: chatHost,
		},
		"behind a TLS proxy the URL is wss on the forwarded host": {
			headers:    map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "chat.example.com"},
			wantScheme: "wss", wantHost: "chat.example.com",
		},
		"the first of several forwarded values wins": {
			headers:    map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example.com:8443, b"},
			wantScheme: "wss", wantHost: "a.example.com:8443",
		},
		"a plain http proxy keeps ws": {
			headers:    map[string]string{"X-Forwarded-Proto": "http"},
			wantScheme: "ws", wantHost: chatHost,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, body := getNegotiate(t, ts.URL, "id=alice", tc.headers)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			u, claims := parseAccessURL(t, body)
			if u.Scheme != tc.wantScheme || u.Host != tc.wantHost || u.Path != "/client/hubs/chat" {
				t.Errorf("url %s://%s%s, want %s://%s/client/hubs/chat", u.Scheme, u.Host, u.Path, tc.wantScheme, tc.wantHost)
			}
			// The token is still for the service: the proxy forwards it as is.
			aud, _ := claims.GetAudience()
			if want := rs.ts.URL + "/client/hubs/chat"; len(aud) != 1 || aud[0] != want {
				t.Errorf("aud %v, want [%s]", aud, want)
			}
		})
	}
}
