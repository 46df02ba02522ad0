// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

func TestConnectSendsEveryHeaderAndAppliesTheAnswer(t *testing.T) {
	t.Parallel()
	var got *webpubsub.ConnectRequest
	h := eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			got = req
			if err := req.Context.SetState("visits", 1); err != nil {
				return nil, err
			}
			return &webpubsub.ConnectResponse{UserID: "bob", Groups: []string{"g1"}, Roles: []string{webpubsub.RoleSendToGroup}, Subprotocol: webpubsub.SubprotocolJSON}, nil
		},
	})
	srv, rec := serve(t, h)
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{hub}/{event}"), AccessKeys: func() []string { return []string{testKey, otherKey} }})

	res, err := d.Connect(context.Background(), info("c1"), ConnectEventBody{
		Claims:       map[string][]string{"sub": {"alice"}},
		Query:        map[string][]string{"x": {"1"}},
		Subprotocols: []string{webpubsub.SubprotocolJSON, webpubsub.SubprotocolJSONReliable},
	})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if res.UserID != "bob" || res.Subprotocol != webpubsub.SubprotocolJSON ||
		!cmp.Equal(res.Groups, []string{"g1"}) || !cmp.Equal(res.Roles, []string{webpubsub.RoleSendToGroup}) {
		t.Fatalf("Connect result = %+v, want the handler's answer", res)
	}
	if res.State == nil || *res.State == "" {
		t.Fatalf("Connect result state = %v, want the ce-connectionState the handler set", res.State)
	}
	if got == nil || got.Context.UserID != "alice" || !cmp.Equal(got.Claims["sub"], []string{"alice"}) || !cmp.Equal(got.Query["x"], []string{"1"}) || len(got.Subprotocols) != 2 {
		t.Fatalf("handler received %+v, want the connect body", got)
	}

	posts := rec.requests(http.MethodPost)
	if len(posts) != 1 {
		t.Fatalf("handler got %d POSTs, want 1", len(posts))
	}
	p := posts[0]
	if p.path != "/api/chat/connect" {
		t.Errorf("POST path = %s, want /api/chat/connect", p.path)
	}
	want := map[string]string{
		"ce-specversion":         "1.0",
		"ce-type":                webpubsub.EventTypeConnect,
		"ce-source":              "/hubs/chat/client/c1",
		"ce-id":                  "0",
		"ce-userId":              "alice",
		"ce-connectionId":        "c1",
		"ce-hub":                 "chat",
		"ce-eventName":           "connect",
		"ce-subprotocol":         webpubsub.SubprotocolJSON,
		"ce-awpsversion":         "1.0",
		"WebHook-Request-Origin": testOrigin,
		"Content-Type":           "application/json; charset=utf-8",
		"ce-signature":           webpubsub.Signature(testKey, "c1") + "," + webpubsub.Signature(otherKey, "c1"),
	}
	for k, v := range want {
		if g := p.header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, p.header.Get("ce-time")); err != nil {
		t.Errorf("ce-time %q is not RFC 3339: %v", p.header.Get("ce-time"), err)
	}
	if p.header.Get("ce-connectionState") != "" {
		t.Errorf("ce-connectionState sent on connect without a state")
	}
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		serviceKeys []string
		handlerKeys []string
		wantStatus  int // 0 => accepted
	}{
		"a handler with the same key accepts the event":          {[]string{testKey}, []string{testKey}, 0},
		"a handler that knows only the secondary key accepts it": {[]string{testKey, otherKey}, []string{otherKey}, 0},
		"a signature made with another key is refused as forged": {[]string{otherKey}, []string{testKey}, http.StatusUnauthorized},
		"an unsigned event is refused":                           {nil, []string{testKey}, http.StatusUnauthorized},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			called := false
			srv, _ := serve(t, eventHandler(t, tc.handlerKeys, webpubsub.EventHandlerOptions{
				OnConnect: func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
					called = true
					return nil, nil
				},
			}))
			keys := tc.serviceKeys
			d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}"), AccessKeys: func() []string { return keys }})
			_, err := d.Connect(context.Background(), info("conn-1"), ConnectEventBody{})
			if tc.wantStatus == 0 {
				if err != nil || !called {
					t.Fatalf("Connect = %v (handler called %v), want accepted", err, called)
				}
				return
			}
			var re *RejectError
			if !errors.As(err, &re) || re.StatusCode != tc.wantStatus {
				t.Fatalf("Connect = %v, want a RejectError with status %d", err, tc.wantStatus)
			}
			if called {
				t.Fatal("the handler's OnConnect ran for a refused signature")
			}
		})
	}
}

func TestConnectRejections(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err        error
		wantStatus int
		wantMsg    string
	}{
		"401 from the handler rejects with 401": {&webpubsub.EventError{StatusCode: 401, Message: "who are you"}, 401, "who are you"},
		"403 from the handler rejects with 403": {&webpubsub.EventError{StatusCode: 403, Message: "go away"}, 403, "go away"},
		"a handler failure rejects with 500":    {errors.New("boom"), 500, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{
				OnConnect: func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
					return nil, tc.err
				},
			}))
			d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}")})
			_, err := d.Connect(context.Background(), info("c"), ConnectEventBody{})
			var re *RejectError
			if !errors.As(err, &re) || re.StatusCode != tc.wantStatus || !strings.Contains(re.Message, tc.wantMsg) {
				t.Fatalf("Connect = %#v, want RejectError{%d, ~%q}", err, tc.wantStatus, tc.wantMsg)
			}
			wantPosts := 1
			if tc.wantStatus >= 500 {
				wantPosts = 4 // retried per §3.7
			}
			if n := len(rec.requests(http.MethodPost)); n != wantPosts {
				t.Fatalf("handler got %d POSTs, want %d", n, wantPosts)
			}
		})
	}
}

func TestConnectWithoutAConnectHandlerAcceptsAsIs(t *testing.T) {
	t.Parallel()
	s := settings.NewStore()
	if err := s.Set(testHub, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{
		{URLTemplate: "http://127.0.0.1:1/never", UserEventPattern: "message", SystemEvents: []string{"connected"}},
	}}}); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, Config{Store: s})
	res, err := d.Connect(context.Background(), info("c"), ConnectEventBody{})
	if err != nil || res == nil || res.UserID != "" || res.State != nil {
		t.Fatalf("Connect = %+v, %v; want an empty result", res, err)
	}
	if _, err := d.UserEvent(context.Background(), info("c"), "other", webpubsub.ContentTypeText, []byte("x")); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("UserEvent for an unmatched event = %v, want ErrNoHandler", err)
	}
	checks := map[string]bool{"connect": false, "connected": true, "disconnected": false, "message": true, "MESSAGE": true, "other": false}
	for ev, want := range checks {
		if got := d.HasHandler(testHub, ev); got != want {
			t.Errorf("HasHandler(%s) = %v, want %v", ev, got, want)
		}
	}
	if d.HasHandler("elsewhere", "message") {
		t.Error("HasHandler for a hub without settings and no _default = true")
	}
}

func TestTheDefaultHubCatchesHubsWithoutSettings(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, statusHandler(http.StatusNoContent))
	s := settings.NewStore()
	setHandler(t, s, settings.DefaultHub, srv.URL+"/hubs/{hub}/{event}")
	d := newDispatcher(t, Config{Store: s})
	in := ConnectionInfo{Hub: "Lobby", ConnectionID: "c"}
	if _, err := d.Connect(context.Background(), in, ConnectEventBody{}); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	posts := rec.requests(http.MethodPost)
	if len(posts) != 1 || posts[0].path != "/hubs/Lobby/connect" || posts[0].header.Get("ce-hub") != "Lobby" {
		t.Fatalf("POSTs = %+v, want one to /hubs/Lobby/connect", posts)
	}
}

func TestUserEventRoundTripKeepsTheState(t *testing.T) {
	t.Parallel()
	h := eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			return nil, req.Context.SetState("count", 1)
		},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			var n int
			if err := json.Unmarshal(req.Context.States["count"], &n); err != nil {
				return nil, &webpubsub.EventError{StatusCode: 400, Message: "no count state"}
			}
			if err := req.Context.SetState("count", n+1); err != nil {
				return nil, err
			}
			switch req.Context.EventName {
			case "json":
				return &webpubsub.UserEventResponse{Data: []byte(`{"n":1}`), ContentType: webpubsub.ContentTypeJSON}, nil
			case "binary":
				return &webpubsub.UserEventResponse{Data: []byte{0, 1, 2}, ContentType: webpubsub.ContentTypeBinary}, nil
			case "silent":
				return nil, nil
			}
			return &webpubsub.UserEventResponse{Data: append([]byte("echo:"), req.Data...), ContentType: webpubsub.ContentTypeText}, nil
		},
	})
	srv, rec := serve(t, h)
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}")})
	in := info("c1")
	res, err := d.Connect(context.Background(), in, ConnectEventBody{})
	if err != nil || res.State == nil {
		t.Fatalf("Connect = %+v, %v; want a state", res, err)
	}
	in.State = *res.State

	tests := []struct {
		event, wantType string
		wantData        []byte
	}{
		{"message", webpubsub.ContentTypeText, []byte("echo:hi")},
		{"json", webpubsub.ContentTypeJSON, []byte(`{"n":1}`)},
		{"binary", webpubsub.ContentTypeBinary, []byte{0, 1, 2}},
		{"silent", "", nil},
	}
	for i, tc := range tests {
		ur, err := d.UserEvent(context.Background(), in, tc.event, webpubsub.ContentTypeText, []byte("hi"))
		if err != nil {
			t.Fatalf("UserEvent(%s): %v", tc.event, err)
		}
		if ur.ContentType != tc.wantType || !cmp.Equal(ur.Data, tc.wantData) {
			t.Fatalf("UserEvent(%s) = %q %q, want %q %q", tc.event, ur.ContentType, ur.Data, tc.wantType, tc.wantData)
		}
		if ur.State == nil {
			t.Fatalf("UserEvent(%s) returned no state", tc.event)
		}
		states := decodeStates(t, *ur.State)
		if want := strings.TrimSpace(string(states["count"])); want != []string{"2", "3", "4", "5"}[i] {
			t.Fatalf("state after event %d = %s, want %d", i, want, i+2)
		}
		in.State = *ur.State
	}
	posts := rec.requests(http.MethodPost)
	for i, p := range posts {
		if got := p.header.Get("ce-id"); got != []string{"0", "1", "2", "3", "4"}[i] {
			t.Errorf("event %d has ce-id %s, want %d", i, got, i)
		}
	}
	if p := posts[1]; p.header.Get("ce-type") != "azure.webpubsub.user.message" || p.header.Get("Content-Type") != "text/plain" || string(p.body) != "hi" {
		t.Errorf("user event sent as %s %s %q", p.header.Get("ce-type"), p.header.Get("Content-Type"), p.body)
	}
}

func decodeStates(t *testing.T, s string) map[string]json.RawMessage {
	t.Helper()
	raw, err := decodeBase64(s)
	if err != nil {
		t.Fatalf("state %q is not base64: %v", s, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("state is not a JSON object: %v", err)
	}
	return m
}

func TestUserEventFailureIsARejectError(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, eventHandler(t, []string{testKey}, webpubsub.EventHandlerOptions{
		OnUserEvent: func(context.Context, *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			return nil, &webpubsub.EventError{StatusCode: 422, Message: "bad message"}
		},
	}))
	d := newDispatcher(t, Config{Store: storeWith(t, srv.URL+"/api/{event}")})
	_, err := d.UserEvent(context.Background(), info("c"), "message", webpubsub.ContentTypeText, []byte("x"))
	var re *RejectError
	if !errors.As(err, &re) || re.StatusCode != 422 || re.Message != "bad message" {
		t.Fatalf("UserEvent = %v, want RejectError 422 bad message", err)
	}
}

func TestSettingsChangesApplyToTheNextEvent(t *testing.T) {
	t.Parallel()
	first, recA := serve(t, statusHandler(http.StatusNoContent))
	second, recB := serve(t, statusHandler(http.StatusNoContent))
	s := storeWith(t, first.URL+"/{event}")
	d := newDispatcher(t, Config{Store: s})
	if _, err := d.Connect(context.Background(), info("c1"), ConnectEventBody{}); err != nil {
		t.Fatal(err)
	}
	setHandler(t, s, testHub, second.URL+"/{event}")
	if _, err := d.Connect(context.Background(), info("c2"), ConnectEventBody{}); err != nil {
		t.Fatal(err)
	}
	if a, b := len(recA.requests(http.MethodPost)), len(recB.requests(http.MethodPost)); a != 1 || b != 1 {
		t.Fatalf("first handler got %d events, second %d; want 1 each", a, b)
	}
	s.Delete(testHub)
	if _, err := d.Connect(context.Background(), info("c3"), ConnectEventBody{}); err != nil {
		t.Fatalf("Connect after the settings were deleted = %v, want accepted without a handler", err)
	}
	if b := len(recB.requests(http.MethodPost)); b != 1 {
		t.Fatalf("deleted handler got %d events, want still 1", b)
	}
}
