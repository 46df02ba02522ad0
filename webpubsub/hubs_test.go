// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testResourceID = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.SignalRService/webPubSub/wps-1"

// armFake is a scripted ARM hub-settings endpoint that checks every request's access-key
// token (aud = URL without the query) and api-version.
type armFake struct {
	t   *testing.T
	srv *httptest.Server
	key string

	mu         sync.Mutex
	hubs       map[string]json.RawMessage
	putStatus  int      // 200 or 201
	opStatuses []string // statuses the async operation reports, in order; the last repeats
	opError    string   // error body of a failed operation
	delStatus  int      // 200, 202, 204 or 404
	locPolls   int      // 202s the Location answers before 204
	retryAfter string
	log        []string // "METHOD path"
	authErrors []string
}

func newARMFake(t *testing.T) *armFake {
	f := &armFake{t: t, key: testKey, hubs: map[string]json.RawMessage{}, putStatus: 200, delStatus: 200}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *armFake) checkAuth(r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	c, err := ParseToken(tok, []string{f.key}, time.Now(), time.Minute)
	switch {
	case err != nil:
		f.authErrors = append(f.authErrors, err.Error())
	case c.Audience != "http://"+r.Host+r.URL.EscapedPath():
		f.authErrors = append(f.authErrors, fmt.Sprintf("aud %q for %s", c.Audience, r.URL.EscapedPath()))
	}
	if v := r.URL.Query().Get("api-version"); v != ARMAPIVersion && !strings.HasPrefix(r.URL.Path, "/ops/") {
		f.authErrors = append(f.authErrors, "api-version "+v)
	}
}

func (f *armFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkAuth(r)
	f.log = append(f.log, r.Method+" "+r.URL.Path)
	base := "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.SignalRService/webPubSub/wps-1"
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	switch {
	case r.URL.Path == base+"/listKeys" && r.Method == http.MethodPost:
		writeJSON(w, 200, `{"primaryKey":"pk","secondaryKey":"sk","primaryConnectionString":"Endpoint=http://x;AccessKey=pk;Version=1.0;","secondaryConnectionString":"Endpoint=http://x;AccessKey=sk;Version=1.0;"}`)
	case strings.HasPrefix(r.URL.Path, base+"/hubs/"):
		f.serveHub(w, r, strings.TrimPrefix(r.URL.Path, base+"/hubs/"))
	case r.URL.Path == "/ops/put":
		st := f.opStatuses[0]
		if len(f.opStatuses) > 1 {
			f.opStatuses = f.opStatuses[1:]
		}
		body := `{"status":"` + st + `"`
		if st == "Failed" && f.opError != "" {
			body += `,"error":` + f.opError
		}
		writeJSON(w, 200, body+"}")
	case r.URL.Path == "/ops/delete":
		if f.locPolls > 0 {
			f.locPolls--
			w.WriteHeader(202)
			return
		}
		w.WriteHeader(204)
	default:
		writeJSON(w, 404, `{"error":{"code":"NotFound","message":"no route"}}`)
	}
}

func (f *armFake) serveHub(w http.ResponseWriter, r *http.Request, hub string) {
	switch r.Method {
	case http.MethodGet:
		hs, ok := f.hubs[hub]
		if !ok {
			writeJSON(w, 404, `{"error":{"code":"ResourceNotFound","message":"hub `+hub+` not found"}}`)
			return
		}
		writeJSON(w, 200, string(hs))
	case http.MethodPut:
		var in HubSettings
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &in); err != nil || r.Header.Get("Content-Type") != "application/json" {
			writeJSON(w, 400, `{"error":{"code":"BadRequest","message":"bad body"}}`)
			return
		}
		in.ID = strings.TrimSuffix(r.URL.Path, "/")
		in.Name = hub
		in.Type = "Microsoft.SignalRService/WebPubSub/hubs"
		out, _ := json.Marshal(in)
		f.hubs[hub] = out
		if f.putStatus == 201 {
			w.Header().Set("Azure-AsyncOperation", "http://"+r.Host+"/ops/put?api-version=2024-03-01")
			w.Header().Set("Location", "http://"+r.Host+"/ops/put-result")
			writeJSON(w, 201, string(out))
			return
		}
		writeJSON(w, 200, string(out))
	case http.MethodDelete:
		delete(f.hubs, hub)
		switch f.delStatus {
		case 202:
			w.Header().Set("Location", "/ops/delete")
			w.WriteHeader(202)
		case 404:
			writeJSON(w, 404, `{"error":{"code":"NotFound","message":"gone"}}`)
		default:
			w.WriteHeader(f.delStatus)
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body) //nolint:gosec // G705: a test server answering with the test's JSON
}

func (f *armFake) client(t *testing.T, opts *HubsClientOptions) *HubsClient {
	t.Helper()
	rid, err := ParseResourceID(testResourceID)
	if err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = &HubsClientOptions{PollInterval: time.Millisecond}
	}
	c, err := NewHubsClient(f.srv.URL, rid, AccessKeyTokenSource(f.key), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *armFake) done(t *testing.T, wantLog []string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.authErrors) > 0 {
		t.Errorf("auth errors: %v", f.authErrors)
	}
	if diff := cmp.Diff(wantLog, f.log); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

const hubPath = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.SignalRService/webPubSub/wps-1/hubs/chat"

func sampleSettings() *HubSettings {
	ka := int32(20)
	return &HubSettings{Properties: HubProperties{
		EventHandlers: []EventHandlerSettings{{
			URLTemplate: "http://chat.default.svc/eventhandler/{event}", UserEventPattern: "*",
			SystemEvents: []string{"connect", "connected", "disconnected"},
			Auth:         &UpstreamAuthSettings{Type: "None"},
		}},
		AnonymousConnectPolicy:              "deny",
		WebSocketKeepAliveIntervalInSeconds: &ka,
	}}
}

func TestHubsClientCreateOrUpdate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		putStatus  int
		opStatuses []string
		opError    string
		wantLog    []string
		wantErr    string
	}{
		"a synchronous 200 returns the stored hub": {
			putStatus: 200,
			wantLog:   []string{"PUT " + hubPath},
		},
		"a 201 polls the operation until it succeeds": {
			putStatus: 201, opStatuses: []string{"Running", "Running", "Succeeded"},
			wantLog: []string{"PUT " + hubPath, "GET /ops/put", "GET /ops/put", "GET /ops/put", "GET " + hubPath},
		},
		"a failed operation surfaces its error": {
			putStatus: 201, opStatuses: []string{"Running", "Failed"}, opError: `{"code":"EventHandlerValidationFailed","message":"abuse protection failed"}`,
			wantLog: []string{"PUT " + hubPath, "GET /ops/put", "GET /ops/put"},
			wantErr: "EventHandlerValidationFailed",
		},
		"a canceled operation is an error": {
			putStatus: 201, opStatuses: []string{"Canceled"},
			wantLog: []string{"PUT " + hubPath, "GET /ops/put"},
			wantErr: "operation canceled",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newARMFake(t)
			f.putStatus, f.opStatuses, f.opError = tc.putStatus, tc.opStatuses, tc.opError
			got, err := f.client(t, nil).CreateOrUpdate(context.Background(), "chat", sampleSettings())
			checkErr(t, err, tc.wantErr)
			f.done(t, tc.wantLog)
			if err != nil {
				var re *ResponseError
				if !errors.As(err, &re) {
					t.Errorf("error %v is not a ResponseError", err)
				}
				return
			}
			want := sampleSettings()
			want.ID, want.Name, want.Type = hubPath, "chat", "Microsoft.SignalRService/WebPubSub/hubs"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("settings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHubsClientGet(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	c := f.client(t, nil)
	_, err := c.Get(context.Background(), "chat")
	if !IsNotFound(err) {
		t.Fatalf("Get of a missing hub: err = %v, want not found", err)
	}
	var re *ResponseError
	if !errors.As(err, &re) || re.ErrorCode != "ResourceNotFound" || re.Message != "hub chat not found" || re.Path != hubPath {
		t.Errorf("error = %+v, want the ARM code and message", re)
	}
	if _, err := c.CreateOrUpdate(context.Background(), "chat", sampleSettings()); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(context.Background(), "chat")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleSettings().Properties, got.Properties); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	f.done(t, []string{"GET " + hubPath, "PUT " + hubPath, "GET " + hubPath})
}

func TestHubsClientDelete(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		status   int
		locPolls int
		wantLog  []string
	}{
		"a 200 is done":                 {status: 200, wantLog: []string{"DELETE " + hubPath}},
		"a 204 is done":                 {status: 204, wantLog: []string{"DELETE " + hubPath}},
		"a missing hub is not an error": {status: 404, wantLog: []string{"DELETE " + hubPath}},
		"a 202 polls Location until it stops answering 202": {
			status: 202, locPolls: 2,
			wantLog: []string{"DELETE " + hubPath, "GET /ops/delete", "GET /ops/delete", "GET /ops/delete"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newARMFake(t)
			f.delStatus, f.locPolls = tc.status, tc.locPolls
			if err := f.client(t, nil).Delete(context.Background(), "chat"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			f.done(t, tc.wantLog)
		})
	}
}

func TestHubsClientHonoursRetryAfterWhenPolling(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	f.putStatus, f.opStatuses, f.retryAfter = 201, []string{"Running", "Succeeded"}, "0"
	if _, err := f.client(t, &HubsClientOptions{}).CreateOrUpdate(context.Background(), "chat", sampleSettings()); err != nil {
		t.Fatal(err)
	}
	f.done(t, []string{"PUT " + hubPath, "GET /ops/put", "GET /ops/put", "GET " + hubPath})
}

func TestHubsClientPollingStopsWithTheContext(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	f.putStatus, f.opStatuses = 201, []string{"Running"}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := f.client(t, nil).CreateOrUpdate(ctx, "chat", sampleSettings())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

func TestHubsClientListKeys(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	k, err := f.client(t, nil).ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &Keys{PrimaryKey: "pk", SecondaryKey: "sk", PrimaryConnectionString: "Endpoint=http://x;AccessKey=pk;Version=1.0;", SecondaryConnectionString: "Endpoint=http://x;AccessKey=sk;Version=1.0;"}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v", *k, *k, *k)} {
		if strings.Contains(s, "pk") || strings.Contains(s, "AccessKey") {
			t.Errorf("printing keys shows them: %s", s)
		}
	}
	f.done(t, []string{"POST /subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.SignalRService/webPubSub/wps-1/listKeys"})
}

func TestHubsClientErrorsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	var sawToken string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		writeJSON(w, 403, `{"error":{"code":"AuthorizationFailed","message":"client with token `+sawToken+` may not write hubs"}}`)
	}))
	t.Cleanup(srv.Close)
	rid, _ := ParseResourceID(testResourceID)
	c, err := NewHubsClient(srv.URL, rid, AccessKeyTokenSource(testKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateOrUpdate(context.Background(), "chat", sampleSettings())
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 || re.ErrorCode != "AuthorizationFailed" {
		t.Fatalf("err = %v, want a 403 AuthorizationFailed ResponseError", err)
	}
	msg := err.Error()
	if sawToken == "" || strings.Contains(msg, sawToken) || strings.Contains(msg, testKey) || strings.Contains(msg, "api-version") {
		t.Errorf("error %q leaks a secret or the query", msg)
	}
	if !strings.Contains(msg, "may not write hubs") {
		t.Errorf("error %q lost the ARM message", msg)
	}
}

func TestHubsClientRefusesPollingAnotherHost(t *testing.T) {
	t.Parallel()
	var otherHits int
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherHits++
		mu.Unlock()
		writeJSON(w, 200, `{"status":"Succeeded"}`)
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Azure-AsyncOperation", other.URL+"/ops")
		writeJSON(w, 201, `{}`)
	}))
	t.Cleanup(srv.Close)
	rid, _ := ParseResourceID(testResourceID)
	c, err := NewHubsClient(srv.URL, rid, AccessKeyTokenSource(testKey), &HubsClientOptions{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateOrUpdate(context.Background(), "chat", sampleSettings())
	checkErr(t, err, "another host")
	mu.Lock()
	defer mu.Unlock()
	if otherHits != 0 {
		t.Error("the client sent its token to another host")
	}
}

func TestNewHubsClientValidates(t *testing.T) {
	t.Parallel()
	rid, _ := ParseResourceID(testResourceID)
	ts := AccessKeyTokenSource(testKey)
	tests := map[string]struct {
		base    string
		rid     ResourceID
		ts      TokenSource
		opts    *HubsClientOptions
		wantErr string
	}{
		"a valid client is built":              {base: "https://management.azure.com", rid: rid, ts: ts},
		"a trailing slash is accepted":         {base: "http://127.0.0.1:8080/", rid: rid, ts: ts},
		"a base URL with a path is rejected":   {base: "https://x/api", rid: rid, ts: ts, wantErr: "scheme://host[:port] only"},
		"a non-http base is rejected":          {base: "ftp://x", rid: rid, ts: ts, wantErr: "not an http(s) URL"},
		"an empty resource is rejected":        {base: "https://x", ts: ts, wantErr: "resource ID needs"},
		"a nil token source is rejected":       {base: "https://x", rid: rid, wantErr: "token source is nil"},
		"a negative poll interval is rejected": {base: "https://x", rid: rid, ts: ts, opts: &HubsClientOptions{PollInterval: -1}, wantErr: "negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := NewHubsClient(tc.base, tc.rid, tc.ts, tc.opts)
			checkErr(t, err, tc.wantErr)
		})
	}
}

func TestHubsClientRejectsBadArguments(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	c := f.client(t, nil)
	ctx := context.Background()
	_, err := c.Get(ctx, "bad hub")
	checkErr(t, err, "hub name")
	_, err = c.CreateOrUpdate(ctx, "chat", nil)
	checkErr(t, err, "settings are nil")
	checkErr(t, c.Delete(ctx, ""), "hub name is empty")
	f.done(t, nil)
}
