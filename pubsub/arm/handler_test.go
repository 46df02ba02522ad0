// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package arm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

const (
	primaryKey   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"
	secondaryKey = "zyxwvutsrqponmlkjihgfedcba9876543210ZYXWVUTS"
	resourcePath = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.SignalRService/webPubSub/local"
	apiQuery     = "?api-version=" + webpubsub.ARMAPIVersion
)

var testResource = webpubsub.ResourceID{SubscriptionID: "sub-1", ResourceGroup: "rg-1", Name: "local"}

// armServer starts the ARM handler on an httptest server.
func armServer(t *testing.T) (*httptest.Server, *settings.Store) {
	t.Helper()
	store := settings.NewStore()
	srv := httptest.NewServer(NewHandler(Config{
		Store:      store,
		AccessKeys: func() []string { return []string{primaryKey, secondaryKey} },
	}))
	t.Cleanup(srv.Close)
	return srv, store
}

func hubsClient(t *testing.T, srv *httptest.Server, key string, opts *webpubsub.HubsClientOptions) *webpubsub.HubsClient {
	t.Helper()
	c, err := webpubsub.NewHubsClient(srv.URL, testResource, webpubsub.AccessKeyTokenSource(key), opts)
	if err != nil {
		t.Fatalf("NewHubsClient: %v", err)
	}
	return c
}

func chatSettings(url string) *webpubsub.HubSettings {
	return &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{{
		URLTemplate: url, UserEventPattern: "*", SystemEvents: []string{"connect", "connected", "disconnected"},
	}}}}
}

func TestHubsClientRoundTrip(t *testing.T) {
	t.Parallel()
	srv, store := armServer(t)
	c := hubsClient(t, srv, primaryKey, nil)
	ctx := context.Background()

	got, err := c.CreateOrUpdate(ctx, "chat", chatSettings("http://chat.default.svc/eventhandler"))
	if err != nil {
		t.Fatalf("CreateOrUpdate: %v", err)
	}
	wantID := "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.SignalRService/WebPubSub/local/hubs/chat"
	if got.ID != wantID || got.Name != "chat" || got.Type != ResourceType {
		t.Fatalf("created resource = %s %s %s, want %s chat %s", got.ID, got.Name, got.Type, wantID, ResourceType)
	}
	if hs, ok := store.Get("chat"); !ok || hs.Properties.EventHandlers[0].URLTemplate != "http://chat.default.svc/eventhandler" {
		t.Fatalf("store has %+v, want the new handler", hs)
	}

	// The secondary key works as well, and an update replaces the handler.
	c2 := hubsClient(t, srv, secondaryKey, nil)
	if _, err := c2.CreateOrUpdate(ctx, "chat", chatSettings("http://other/{event}")); err != nil {
		t.Fatalf("update with the secondary key: %v", err)
	}
	read, err := c.Get(ctx, "CHAT")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if read.Properties.EventHandlers[0].URLTemplate != "http://other/{event}" || len(read.Properties.EventHandlers[0].SystemEvents) != 3 {
		t.Fatalf("Get = %+v, want the updated handler", read.Properties)
	}

	keys, err := c.ListKeys(ctx)
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if keys.PrimaryKey != primaryKey || keys.SecondaryKey != secondaryKey {
		t.Fatal("ListKeys returned other keys than the service's")
	}
	cs, err := webpubsub.ParseConnectionString(keys.SecondaryConnectionString)
	if err != nil || cs.AccessKey != secondaryKey || cs.Endpoint.String() != srv.URL {
		t.Fatalf("secondary connection string parses to %v (%v), want endpoint %s with the secondary key", cs, err, srv.URL)
	}

	if err := c.Delete(ctx, "chat"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, "chat"); !webpubsub.IsNotFound(err) {
		t.Fatalf("Get after Delete = %v, want not found", err)
	}
	if err := c.Delete(ctx, "chat"); err != nil {
		t.Fatalf("Delete of a missing hub = %v, want nil", err)
	}
}

func TestPutAnswers201OnCreateAnd200OnUpdate(t *testing.T) {
	t.Parallel()
	srv, _ := armServer(t)
	body := `{"properties":{"eventHandlers":[{"urlTemplate":"http://h/{event}","systemEvents":["connect"]}]}}`
	for i, want := range []int{http.StatusCreated, http.StatusOK} {
		res := do(t, srv, http.MethodPut, resourcePath+"/hubs/lobby"+apiQuery, body, primaryKey, "")
		if res.StatusCode != want {
			t.Fatalf("PUT %d = %d, want %d", i+1, res.StatusCode, want)
		}
		var hs webpubsub.HubSettings
		if err := json.NewDecoder(res.Body).Decode(&hs); err != nil || hs.Name != "lobby" || len(hs.Properties.EventHandlers) != 1 {
			t.Fatalf("PUT %d body = %+v (%v), want the lobby resource", i+1, hs, err)
		}
		res.Body.Close()
	}
	res := do(t, srv, http.MethodGet, resourcePath+"/hubs"+apiQuery, "", primaryKey, "")
	defer res.Body.Close()
	var list struct {
		Value []webpubsub.HubSettings `json:"value"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list.Value) != 1 || list.Value[0].Name != "lobby" {
		t.Fatalf("GET hubs = %d %+v (%v), want the lobby hub", res.StatusCode, list, err)
	}
}

func TestPutValidationErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		hub     string
		body    string
		wantMsg string
	}{
		"a placeholder in the host is refused": {
			"chat", `{"properties":{"eventHandlers":[{"urlTemplate":"http://{hub}.example.com/x"}]}}`, "placeholder in the host",
		},
		"a relative URL is refused": {
			"chat", `{"properties":{"eventHandlers":[{"urlTemplate":"/eventhandler"}]}}`, "is not an absolute URL",
		},
		"an unknown system event is refused": {
			"chat", `{"properties":{"eventHandlers":[{"urlTemplate":"http://h/x","systemEvents":["joined"]}]}}`, `systemEvents[0] is "joined"`,
		},
		"a bad user event pattern is refused": {
			"chat", `{"properties":{"eventHandlers":[{"urlTemplate":"http://h/x","userEventPattern":"a b"}]}}`, "is not an event name",
		},
		"a keep-alive out of range is refused": {
			"chat", `{"properties":{"webSocketKeepAliveIntervalInSeconds":500}}`, "between 1 and 120",
		},
		"a body that is not JSON is refused": {
			"chat", `{"properties":`, "not a valid hub settings JSON object",
		},
		"an invalid hub name is refused": {
			"9lives", `{"properties":{}}`, "hub name",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, store := armServer(t)
			res := do(t, srv, http.MethodPut, resourcePath+"/hubs/"+tc.hub+apiQuery, tc.body, primaryKey, "")
			code, msg := armErr(t, res)
			if res.StatusCode != http.StatusBadRequest || code != "InvalidRequest" || !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("PUT = %d %s %q, want 400 InvalidRequest containing %q", res.StatusCode, code, msg, tc.wantMsg)
			}
			if len(store.Hubs()) != 0 {
				t.Fatal("a refused PUT stored settings")
			}
		})
	}
}

func TestTheHubsClientSeesValidationErrors(t *testing.T) {
	t.Parallel()
	srv, _ := armServer(t)
	c := hubsClient(t, srv, primaryKey, nil)
	_, err := c.CreateOrUpdate(context.Background(), "chat", chatSettings("ftp://h/x"))
	var re *webpubsub.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || !strings.Contains(re.Message, `scheme "ftp" is not supported`) {
		t.Fatalf("CreateOrUpdate = %v, want a 400 saying the scheme is not supported", err)
	}
}

func TestAPIVersion(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		query    string
		wantCode string
	}{
		"a missing api-version is refused": {"", "MissingApiVersionParameter"},
		"another api-version is refused":   {"?api-version=2023-02-01", "InvalidApiVersionParameter"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := armServer(t)
			res := do(t, srv, http.MethodGet, resourcePath+"/hubs/chat"+tc.query, "", primaryKey, "")
			code, msg := armErr(t, res)
			if res.StatusCode != http.StatusBadRequest || code != tc.wantCode || !strings.Contains(msg, webpubsub.ARMAPIVersion) {
				t.Fatalf("GET = %d %s %q, want 400 %s naming %s", res.StatusCode, code, msg, tc.wantCode, webpubsub.ARMAPIVersion)
			}
		})
	}
	srv, _ := armServer(t)
	c := hubsClient(t, srv, primaryKey, &webpubsub.HubsClientOptions{APIVersion: "2021-10-01"})
	if _, err := c.Get(context.Background(), "chat"); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("HubsClient with api-version 2021-10-01 = %v, want a 400", err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	now := time.Now()
	hubPath := resourcePath + "/hubs/chat"
	// token signs for aud; a negative ttl issues the token in the past so that it has expired.
	token := func(key, aud string, ttl time.Duration) string {
		issued := now
		if ttl < 0 {
			issued, ttl = now.Add(2*ttl), -ttl
		}
		tok, err := webpubsub.ServiceToken(key, aud, ttl, issued)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := map[string]struct {
		authz  func(base string) string
		wantOK bool
	}{
		"a token for this URL passes": {
			func(base string) string { return "Bearer " + token(primaryKey, base+hubPath, time.Hour) }, true,
		},
		"the audience may carry the query": {
			func(base string) string { return "Bearer " + token(primaryKey, base+hubPath+apiQuery, time.Hour) }, true,
		},
		"the audience scheme does not matter": {
			func(base string) string {
				return "Bearer " + token(primaryKey, strings.Replace(base, "http://", "https://", 1)+hubPath, time.Hour)
			}, true,
		},
		"a lower-case bearer scheme passes": {
			func(base string) string { return "bearer " + token(secondaryKey, base+hubPath, time.Hour) }, true,
		},
		"no Authorization header is refused": {
			func(string) string { return "" }, false,
		},
		"a basic Authorization header is refused": {
			func(string) string { return "Basic dXNlcjpwYXNz" }, false,
		},
		"a token signed with another key is refused": {
			func(base string) string {
				return "Bearer " + token("another-key-another-key-another-key!!", base+hubPath, time.Hour)
			}, false,
		},
		"an expired token is refused": {
			func(base string) string { return "Bearer " + token(primaryKey, base+hubPath, -time.Hour) }, false,
		},
		"a token for another path is refused": {
			func(base string) string {
				return "Bearer " + token(primaryKey, base+resourcePath+"/hubs/other", time.Hour)
			}, false,
		},
		"a token with a suffix glued to the path is refused": {
			func(base string) string { return "Bearer " + token(primaryKey, base+hubPath+"x", time.Hour) }, false,
		},
		"a token for another host is refused": {
			func(string) string {
				return "Bearer " + token(primaryKey, "http://evil.example.com"+hubPath, time.Hour)
			}, false,
		},
		"an ftp audience is refused": {
			func(base string) string {
				return "Bearer " + token(primaryKey, strings.Replace(base, "http://", "ftp://", 1)+hubPath, time.Hour)
			}, false,
		},
		"garbage is refused": {
			func(string) string { return "Bearer not.a.jwt" }, false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := armServer(t)
			res := do(t, srv, http.MethodGet, hubPath+apiQuery, "", "", tc.authz(srv.URL))
			if tc.wantOK {
				if res.StatusCode != http.StatusNotFound {
					t.Fatalf("GET = %d, want 404 (authenticated, no such hub)", res.StatusCode)
				}
				res.Body.Close()
				return
			}
			code, msg := armErr(t, res)
			if res.StatusCode != http.StatusUnauthorized || code != "InvalidAuthenticationToken" || msg == "" {
				t.Fatalf("GET = %d %s %q, want 401 InvalidAuthenticationToken", res.StatusCode, code, msg)
			}
			if strings.Contains(msg, primaryKey) || strings.Contains(msg, "eyJ") {
				t.Fatalf("the 401 message leaks a key or token: %s", msg)
			}
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		method, path string
		wantStatus   int
	}{
		"an unknown path is 404":                {http.MethodGet, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/x" + apiQuery, 404},
		"a POST on a hub is 405":                {http.MethodPost, resourcePath + "/hubs/chat" + apiQuery, 405},
		"a GET on listKeys is 405":              {http.MethodGet, resourcePath + "/listKeys" + apiQuery, 405},
		"a missing hub is 404":                  {http.MethodGet, resourcePath + "/hubs/nope" + apiQuery, 404},
		"deleting a missing hub is 204":         {http.MethodDelete, resourcePath + "/hubs/nope" + apiQuery, 204},
		"literal segments are case-insensitive": {http.MethodGet, strings.ToLower(resourcePath) + "/HUBS" + apiQuery, 200},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := armServer(t)
			res := do(t, srv, tc.method, tc.path, "", primaryKey, "")
			res.Body.Close()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("%s = %d, want %d", tc.method, res.StatusCode, tc.wantStatus)
			}
		})
	}
}

// do sends a request; with key it signs an access-key token for the URL, else it sends authz.
func do(t *testing.T, srv *httptest.Server, method, pathAndQuery, body, key, authz string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+pathAndQuery, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		u, _ := url.Parse(srv.URL + pathAndQuery)
		tok, err := webpubsub.AccessKeyTokenSource(key).Token(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		authz = "Bearer " + tok
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// armErr decodes an ARM error body and checks that x-ms-error-code carries the same code.
func armErr(t *testing.T, res *http.Response) (code, msg string) {
	t.Helper()
	defer res.Body.Close()
	var e armError
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatalf("error body is not ARM error JSON: %v", err)
	}
	if h := res.Header.Get(webpubsub.HeaderErrorCode); h != e.Error.Code {
		t.Errorf("%s header %q, want the body's code %q", webpubsub.HeaderErrorCode, h, e.Error.Code)
	}
	return e.Error.Code, e.Error.Message
}
