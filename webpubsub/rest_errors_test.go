// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClientSurfacesServiceErrors(t *testing.T) {
	t.Parallel()
	srv := newRESTServer(t, testKey, cannedResponse{
		status: 404,
		header: map[string]string{HeaderErrorCode: "Error.Connection.NotExisted", "Content-Type": "application/json"},
		body:   `{"code":"NotFound","message":"Connection c1 does not exist.","target":"Connection"}`,
	})
	err := newTestClient(t, srv).AddConnectionToGroup(context.Background(), "g", "c1")
	var re *ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *ResponseError", err)
	}
	want := ResponseError{StatusCode: 404, ErrorCode: "Error.Connection.NotExisted", Message: "Connection c1 does not exist.", Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1"}
	if diff := cmp.Diff(want, *re); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if !IsNotFound(err) {
		t.Error("IsNotFound = false for a 404")
	}
	for _, secret := range []string{testKey, "api-version", "Bearer"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
}

func TestClientRedactsAnEchoedToken(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		// A service that echoes the token back, which the client's error must not carry.
		//nolint:gosec // G705: echoing the request is what this test server is for
		_, _ = w.Write([]byte(`{"code":"Unauthorized","message":"bad token: ` + r.Header.Get("Authorization") + `"}`))
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, &restServer{Server: srv, key: testKey})
	err := c.SendToAll(context.Background(), TextContent("x"), nil)
	if err == nil {
		t.Fatal("no error for a 401")
	}
	if strings.Contains(err.Error(), "eyJ") {
		t.Errorf("error %q contains the token", err)
	}
	if !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Unauthorized") {
		t.Errorf("error %q does not carry the status and code", err)
	}
}

func TestClientUnexpectedSuccessStatusIsAnError(t *testing.T) {
	t.Parallel()
	srv := newRESTServer(t, testKey, cannedResponse{status: 200})
	err := newTestClient(t, srv).SendToAll(context.Background(), TextContent("x"), nil)
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != 200 {
		t.Fatalf("error = %v, want a ResponseError with status 200 (sends expect 202)", err)
	}
}

func TestClientHonoursTimeoutAndCancellation(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	cs, err := ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=" + testKey)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the per-request timeout ends a hung request", func(t *testing.T) {
		c, err := NewClient(cs, "chat", &ClientOptions{Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Health(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want a deadline error", err)
		}
		if strings.Contains(err.Error(), "api-version") {
			t.Errorf("error %q contains the query", err)
		}
	})
	t.Run("a cancelled context ends a request", func(t *testing.T) {
		c, err := NewClient(cs, "chat", nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := c.Health(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
}

func TestClientRejectsBadArguments(t *testing.T) {
	t.Parallel()
	srv := newRESTServer(t, testKey, cannedResponse{status: 202})
	c := newTestClient(t, srv)
	ctx := context.Background()
	tests := map[string]struct {
		call    func() error
		wantErr string
	}{
		"an invalid group":                     {call: func() error { return c.SendToGroup(ctx, "   ", TextContent("x"), nil) }, wantErr: "whitespace"},
		"an empty user":                        {call: func() error { return c.SendToUser(ctx, "", TextContent("x"), nil) }, wantErr: "user id is empty"},
		"an empty connection":                  {call: func() error { return c.SendToConnection(ctx, "", TextContent("x"), nil) }, wantErr: "connection id is empty"},
		"excluded on SendToUser":               {call: func() error { return c.SendToUser(ctx, "u", TextContent("x"), &SendOptions{Excluded: []string{"c"}}) }, wantErr: "does not support excluded"},
		"a filter on SendToConnection":         {call: func() error { return c.SendToConnection(ctx, "c", TextContent("x"), &SendOptions{Filter: "x"}) }, wantErr: "does not support a filter"},
		"a ttl over 300":                       {call: func() error { return c.SendToAll(ctx, TextContent("x"), &SendOptions{MessageTTLSeconds: 301}) }, wantErr: "0..300"},
		"a negative ttl":                       {call: func() error { return c.SendToAll(ctx, TextContent("x"), &SendOptions{MessageTTLSeconds: -1}) }, wantErr: "0..300"},
		"an empty excluded id":                 {call: func() error { return c.SendToAll(ctx, TextContent("x"), &SendOptions{Excluded: []string{""}}) }, wantErr: "excluded connection id is empty"},
		"an unsupported content type":          {call: func() error { return c.SendToAll(ctx, Content{ContentType: "image/png"}, nil) }, wantErr: "is not text/plain"},
		"a missing content type":               {call: func() error { return c.SendToAll(ctx, Content{Data: []byte("x")}, nil) }, wantErr: "invalid"},
		"no groups for AddConnectionsToGroups": {call: func() error { return c.AddConnectionsToGroups(ctx, nil, "") }, wantErr: "no groups"},
		"an unknown permission":                {call: func() error { return c.GrantPermission(ctx, "admin", "c", "") }, wantErr: "not sendToGroup or joinLeaveGroup"},
		"a negative minutesToExpire": {call: func() error {
			_, err := c.GenerateClientToken(ctx, &GenerateTokenOptions{MinutesToExpire: -1})
			return err
		}, wantErr: "negative"},
		"an unknown clientType": {call: func() error {
			_, err := c.GenerateClientToken(ctx, &GenerateTokenOptions{ClientType: "SocketIO"})
			return err
		}, wantErr: "not Default or MQTT"},
		"a page size over 200": {call: func() error {
			_, err := c.ListConnectionsInGroup(ctx, "g", &ListOptions{MaxPageSize: 201})
			return err
		}, wantErr: "1..200"},
		"a nil context": {call: func() error {
			var nilCtx context.Context
			return c.Health(nilCtx)
		}, wantErr: "nil context"},
	}
	for name, tc := range tests {
		t.Run(name+" is rejected before sending", func(t *testing.T) {
			checkErr(t, tc.call(), tc.wantErr)
		})
	}
	if n := len(srv.recorded()); n != 0 {
		t.Errorf("server saw %d requests, want none", n)
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	cs, err := ParseConnectionString("Endpoint=http://127.0.0.1:1;AccessKey=" + testKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		cs      *ConnectionString
		hub     string
		opts    *ClientOptions
		wantErr string
	}{
		"a valid client is built":       {cs: cs, hub: "chat"},
		"a nil connection string fails": {hub: "chat", wantErr: "no endpoint"},
		"an invalid hub fails":          {cs: cs, hub: "9", wantErr: "hub name"},
		"an empty key fails":            {cs: &ConnectionString{Endpoint: cs.Endpoint}, hub: "chat", wantErr: "no access key"},
		"a negative timeout fails":      {cs: cs, hub: "chat", opts: &ClientOptions{Timeout: -1}, wantErr: "negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClient(tc.cs, tc.hub, tc.opts)
			checkErr(t, err, tc.wantErr)
			if err == nil {
				if c.Hub() != "chat" || c.Endpoint().String() != "http://127.0.0.1:1" {
					t.Errorf("Hub %q Endpoint %q", c.Hub(), c.Endpoint())
				}
				if c.httpClient != sharedHTTPClient || c.apiVersion != DefaultAPIVersion || c.timeout != DefaultTimeout {
					t.Error("defaults were not applied")
				}
			}
		})
	}
}

func TestClientAccessUsesTheClientsEndpointAndHub(t *testing.T) {
	t.Parallel()
	srv := newRESTServer(t, testKey)
	c := newTestClient(t, srv)
	ca, err := c.ClientAccess(ClientTokenOptions{UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/client/hubs/chat?access_token="
	if !strings.HasPrefix(ca.URL, wsURL) {
		t.Errorf("URL %q does not start with %q", ca.URL, wsURL)
	}
	claims, err := ParseToken(ca.Token, []string{testKey}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Audience != srv.URL+"/client/hubs/chat" || claims.Subject != "bob" {
		t.Errorf("claims %+v", claims)
	}
}
