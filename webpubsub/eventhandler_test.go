// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/chathub/chathub/webpubsub"
)

var ignoreStateFlag = cmpopts.IgnoreUnexported(webpubsub.ConnectionContext{})

func TestEventHandlerPassesTheConnectEventToOnConnect(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got *webpubsub.ConnectRequest
	srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			got = req
			return nil, nil
		},
	})
	e := connectEvent(`{
		"claims": {"sub": ["alice"], "role": ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"], "exp": [1700000000]},
		"query": {"access_token": ["not-a-real-token"], "room": ["lobby"]},
		"headers": {"User-Agent": ["chat-test"], "Accept-Language": ["en", "fr"]},
		"subprotocols": ["json.webpubsub.azure.v1", "json.reliable.webpubsub.azure.v1"],
		"clientCertificates": [{"thumbprint": "ABCDEF", "content": "-----BEGIN CERTIFICATE-----"}]
	}`)
	e.ceID = "0"
	sent := time.Now().UTC().Truncate(time.Second).Add(500 * time.Millisecond)
	e.ceTime = sent.Format(time.RFC3339Nano)
	resp, body := sendEvent(t, srv, e)
	wantResponse(t, resp, body, http.StatusNoContent, "")

	want := &webpubsub.ConnectRequest{
		Context: webpubsub.ConnectionContext{
			Hub: ehHub, ConnectionID: ehConnID, EventName: "connect", EventType: webpubsub.EventTypeConnect,
			Origin: ehOrigin, ID: "0", Time: sent,
		},
		Claims: map[string][]string{
			"sub":  {"alice"},
			"role": {"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"},
			"exp":  {"1700000000"},
		},
		Query:              map[string][]string{"access_token": {"not-a-real-token"}, "room": {"lobby"}},
		Headers:            map[string][]string{"User-Agent": {"chat-test"}, "Accept-Language": {"en", "fr"}},
		Subprotocols:       []string{webpubsub.SubprotocolJSON, webpubsub.SubprotocolJSONReliable},
		ClientCertificates: []webpubsub.ClientCertificate{{Thumbprint: "ABCDEF", Content: "-----BEGIN CERTIFICATE-----"}},
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got, ignoreStateFlag); diff != "" {
		t.Fatalf("ConnectRequest mismatch (-want +got):\n%s", diff)
	}
}

func TestEventHandlerConnectResponses(t *testing.T) {
	t.Parallel()
	const offered = `{"subprotocols":["json.webpubsub.azure.v1","json.reliable.webpubsub.azure.v1"]}`
	type onConnect = func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error)
	respond := func(r *webpubsub.ConnectResponse, err error) onConnect {
		return func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) { return r, err }
	}
	tests := map[string]struct {
		onConnect       onConnect
		wantStatus      int
		wantBody        string
		wantContentType string
		notInBody       string
	}{
		"an accepted connection with a user, groups, roles and a subprotocol answers 200 with that JSON": {
			onConnect: respond(&webpubsub.ConnectResponse{
				UserID: "alice", Groups: []string{"lobby", "ops"},
				Roles:       []string{webpubsub.RoleSendToGroup, webpubsub.RoleJoinLeaveGroup + ".lobby"},
				Subprotocol: webpubsub.SubprotocolJSONReliable,
			}, nil),
			wantStatus:      http.StatusOK,
			wantBody:        `{"userId":"alice","groups":["lobby","ops"],"roles":["webpubsub.sendToGroup","webpubsub.joinLeaveGroup.lobby"],"subprotocol":"json.reliable.webpubsub.azure.v1"}`,
			wantContentType: "application/json",
		},
		"a response with only a user id omits the empty fields": {
			onConnect:       respond(&webpubsub.ConnectResponse{UserID: "bob"}, nil),
			wantStatus:      http.StatusOK,
			wantBody:        `{"userId":"bob"}`,
			wantContentType: "application/json",
		},
		"a nil response accepts the connection with 204": {
			onConnect:  respond(nil, nil),
			wantStatus: http.StatusNoContent,
		},
		"no OnConnect accepts every connection with 204": {
			wantStatus: http.StatusNoContent,
		},
		"a rejection with 401 answers 401 with its message": {
			onConnect:       respond(nil, &webpubsub.EventError{StatusCode: http.StatusUnauthorized, Message: "sign in first"}),
			wantStatus:      http.StatusUnauthorized,
			wantBody:        "sign in first",
			wantContentType: "text/plain; charset=utf-8",
		},
		"a rejection with 403 answers 403 with its message": {
			onConnect:  respond(nil, &webpubsub.EventError{StatusCode: http.StatusForbidden, Message: "banned from this hub"}),
			wantStatus: http.StatusForbidden,
			wantBody:   "banned from this hub",
		},
		"a wrapped rejection keeps its status": {
			onConnect:  respond(nil, fmt.Errorf("checking user: %w", &webpubsub.EventError{StatusCode: http.StatusForbidden, Message: "no"})),
			wantStatus: http.StatusForbidden,
			wantBody:   "no",
		},
		"a rejection without a message answers the status text": {
			onConnect:  respond(nil, &webpubsub.EventError{StatusCode: http.StatusUnauthorized}),
			wantStatus: http.StatusUnauthorized,
			wantBody:   "Unauthorized",
		},
		"a rejection with 400 stays 400": {
			onConnect:  respond(nil, &webpubsub.EventError{StatusCode: http.StatusBadRequest, Message: "room is required"}),
			wantStatus: http.StatusBadRequest,
			wantBody:   "room is required",
		},
		"a rejection with another status becomes 500 with a generic message": {
			onConnect:  respond(nil, &webpubsub.EventError{StatusCode: http.StatusServiceUnavailable, Message: "db down at 10.0.0.7"}),
			wantStatus: http.StatusInternalServerError,
			wantBody:   "the event handler failed to handle the connect event",
			notInBody:  "10.0.0.7",
		},
		"a plain error answers 500 without leaking its text": {
			onConnect:  respond(nil, errors.New("query failed: password=hunter2")),
			wantStatus: http.StatusInternalServerError,
			wantBody:   "the event handler failed to handle the connect event",
			notInBody:  "hunter2",
		},
		"a panicking OnConnect answers 500": {
			onConnect: func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
				panic("secret internal state")
			},
			wantStatus: http.StatusInternalServerError,
			wantBody:   "the event handler failed to handle the connect event",
			notInBody:  "secret",
		},
		"a subprotocol the client did not offer answers 500": {
			onConnect:  respond(&webpubsub.ConnectResponse{Subprotocol: "mqtt"}, nil),
			wantStatus: http.StatusInternalServerError,
			wantBody:   "the event handler failed to handle the connect event",
		},
		"a group name that is only whitespace answers 500": {
			onConnect:  respond(&webpubsub.ConnectResponse{Groups: []string{"  "}}, nil),
			wantStatus: http.StatusInternalServerError,
			wantBody:   "the event handler failed to handle the connect event",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{OnConnect: tc.onConnect})
			resp, body := sendEvent(t, srv, connectEvent(offered))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			if body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
			if tc.wantContentType != "" && resp.Header.Get("Content-Type") != tc.wantContentType {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tc.wantContentType)
			}
			if tc.notInBody != "" && strings.Contains(body, tc.notInBody) {
				t.Errorf("body %q leaks %q", body, tc.notInBody)
			}
			if v := resp.Header.Get(webpubsub.HeaderConnectionState); v != "" {
				t.Errorf("ce-connectionState = %q, want none: no state was set", v)
			}
		})
	}
}

func TestEventHandlerConnectedAndDisconnected(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		event     ceEvent
		panics    bool
		setState  bool
		wantEvent string
		wantCtx   webpubsub.ConnectionContext
		wantWhy   string
	}{
		"connected calls OnConnected with the connection and answers 204": {
			event: ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", userID: "alice",
				subprotocol: webpubsub.SubprotocolJSON, ceID: "1", body: []byte(`{}`), contentType: "application/json; charset=utf-8"},
			wantEvent: "connected",
			wantCtx: webpubsub.ConnectionContext{Hub: ehHub, ConnectionID: ehConnID, UserID: "alice", EventName: "connected",
				EventType: webpubsub.EventTypeConnected, Subprotocol: webpubsub.SubprotocolJSON, Origin: ehOrigin, ID: "1"},
		},
		"disconnected passes the reason and answers 204": {
			event: ceEvent{ceType: webpubsub.EventTypeDisconnected, eventName: "disconnected", userID: "alice",
				body: []byte(`{"reason":"PingTimeout"}`), contentType: "application/json; charset=utf-8"},
			wantEvent: "disconnected",
			wantCtx: webpubsub.ConnectionContext{Hub: ehHub, ConnectionID: ehConnID, UserID: "alice", EventName: "disconnected",
				EventType: webpubsub.EventTypeDisconnected, Origin: ehOrigin},
			wantWhy: "PingTimeout",
		},
		"disconnected with an empty body has no reason": {
			event:     ceEvent{ceType: webpubsub.EventTypeDisconnected, eventName: "disconnected"},
			wantEvent: "disconnected",
			wantCtx: webpubsub.ConnectionContext{Hub: ehHub, ConnectionID: ehConnID, EventName: "disconnected",
				EventType: webpubsub.EventTypeDisconnected, Origin: ehOrigin},
		},
		"a panicking OnConnected still answers 204": {
			event:     ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", body: []byte(`{}`)},
			panics:    true,
			wantEvent: "connected",
			wantCtx: webpubsub.ConnectionContext{Hub: ehHub, ConnectionID: ehConnID, EventName: "connected",
				EventType: webpubsub.EventTypeConnected, Origin: ehOrigin},
		},
		"a panicking OnDisconnected still answers 204": {
			event:     ceEvent{ceType: webpubsub.EventTypeDisconnected, eventName: "disconnected", body: []byte(`{"reason":"x"}`)},
			panics:    true,
			wantEvent: "disconnected",
			wantCtx: webpubsub.ConnectionContext{Hub: ehHub, ConnectionID: ehConnID, EventName: "disconnected",
				EventType: webpubsub.EventTypeDisconnected, Origin: ehOrigin},
			wantWhy: "x",
		},
		"a state set while handling connected is not sent back": {
			event:     ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", body: []byte(`{}`)},
			setState:  true,
			wantEvent: "connected",
			wantCtx: webpubsub.ConnectionContext{Hub: ehHub, ConnectionID: ehConnID, EventName: "connected",
				EventType: webpubsub.EventTypeConnected, Origin: ehOrigin,
				States: map[string]json.RawMessage{"seen": json.RawMessage(`true`)}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			type call struct {
				event  string
				ctx    webpubsub.ConnectionContext
				reason string
			}
			calls := make(chan call, 2)
			srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{
				OnConnected: func(_ context.Context, req *webpubsub.ConnectedRequest) {
					if tc.setState {
						if err := req.Context.SetState("seen", true); err != nil {
							t.Errorf("SetState: %v", err)
						}
					}
					calls <- call{event: "connected", ctx: req.Context}
					if tc.panics {
						panic("callback bug")
					}
				},
				OnDisconnected: func(_ context.Context, req *webpubsub.DisconnectedRequest) {
					calls <- call{event: "disconnected", ctx: req.Context, reason: req.Reason}
					if tc.panics {
						panic("callback bug")
					}
				},
			})
			resp, body := sendEvent(t, srv, tc.event)
			wantResponse(t, resp, body, http.StatusNoContent, "")
			if v := resp.Header.Get(webpubsub.HeaderConnectionState); v != "" {
				t.Errorf("ce-connectionState = %q on a non-blocking event, want none", v)
			}
			select {
			case c := <-calls:
				if c.event != tc.wantEvent {
					t.Fatalf("callback %s called, want %s", c.event, tc.wantEvent)
				}
				if diff := cmp.Diff(tc.wantCtx, c.ctx, ignoreStateFlag, cmpopts.IgnoreFields(webpubsub.ConnectionContext{}, "Time")); diff != "" {
					t.Errorf("context mismatch (-want +got):\n%s", diff)
				}
				if c.reason != tc.wantWhy {
					t.Errorf("reason = %q, want %q", c.reason, tc.wantWhy)
				}
			default:
				t.Fatal("no callback was called before the response")
			}
		})
	}
}

func TestEventHandlerSystemEventsWithoutCallbacksAnswer204(t *testing.T) {
	t.Parallel()
	srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{})
	for _, e := range []ceEvent{
		connectEvent(`{}`),
		{ceType: webpubsub.EventTypeConnected, eventName: "connected", body: []byte(`{}`)},
		{ceType: webpubsub.EventTypeDisconnected, eventName: "disconnected", body: []byte(`{"reason":""}`)},
		userEvent("message", webpubsub.ContentTypeText, []byte("hi")),
	} {
		resp, body := sendEvent(t, srv, e)
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("%s: status = %d, want 204 (body %q)", e.ceType, resp.StatusCode, body)
		}
	}
}

func TestEventHandlerUserEvents(t *testing.T) {
	t.Parallel()
	type onUser = func(context.Context, *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error)
	reply := func(r *webpubsub.UserEventResponse, err error) onUser {
		return func(context.Context, *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			return r, err
		}
	}
	binary := []byte{0x00, 0xff, 0x10, 0x80}
	tests := map[string]struct {
		event           ceEvent
		onUser          onUser
		wantCalled      bool
		wantData        []byte
		wantType        string
		wantStatus      int
		wantBody        string
		wantContentType string
	}{
		"a text message gets a text reply": {
			event:      userEvent("message", "text/plain", []byte("hello")),
			onUser:     reply(&webpubsub.UserEventResponse{Data: []byte("[alice] hello"), ContentType: webpubsub.ContentTypeText}, nil),
			wantCalled: true, wantData: []byte("hello"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusOK, wantBody: "[alice] hello", wantContentType: "text/plain",
		},
		"a text message with a charset is text": {
			event:      userEvent("message", "text/plain; charset=utf-8", []byte("héllo")),
			onUser:     reply(nil, nil),
			wantCalled: true, wantData: []byte("héllo"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusNoContent,
		},
		"a JSON event gets a JSON reply": {
			event:      userEvent("chat.send", "application/json", []byte(`{"to":"bob","text":"hi"}`)),
			onUser:     reply(&webpubsub.UserEventResponse{Data: []byte(`{"ok":true}`), ContentType: webpubsub.ContentTypeJSON}, nil),
			wantCalled: true, wantData: []byte(`{"to":"bob","text":"hi"}`), wantType: webpubsub.ContentTypeJSON,
			wantStatus: http.StatusOK, wantBody: `{"ok":true}`, wantContentType: "application/json",
		},
		"a binary event gets a binary reply": {
			event:      userEvent("upload", "application/octet-stream", binary),
			onUser:     reply(&webpubsub.UserEventResponse{Data: binary, ContentType: webpubsub.ContentTypeBinary}, nil),
			wantCalled: true, wantData: binary, wantType: webpubsub.ContentTypeBinary,
			wantStatus: http.StatusOK, wantBody: string(binary), wantContentType: "application/octet-stream",
		},
		"an event without Content-Type is binary": {
			event:      userEvent("message", "", binary),
			onUser:     reply(nil, nil),
			wantCalled: true, wantData: binary, wantType: webpubsub.ContentTypeBinary,
			wantStatus: http.StatusNoContent,
		},
		"a reply without a content type is sent as binary": {
			event:      userEvent("message", "text/plain", []byte("x")),
			onUser:     reply(&webpubsub.UserEventResponse{Data: []byte("raw")}, nil),
			wantCalled: true, wantData: []byte("x"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusOK, wantBody: "raw", wantContentType: "application/octet-stream",
		},
		"an event with no reply answers 204": {
			event:      userEvent("message", "text/plain", []byte("fire and forget")),
			onUser:     reply(nil, nil),
			wantCalled: true, wantData: []byte("fire and forget"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusNoContent,
		},
		"a reply with empty data answers 204": {
			event:      userEvent("message", "text/plain", []byte("x")),
			onUser:     reply(&webpubsub.UserEventResponse{ContentType: webpubsub.ContentTypeText}, nil),
			wantCalled: true, wantData: []byte("x"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusNoContent,
		},
		"an EventError answers its status and message": {
			event:      userEvent("message", "text/plain", []byte("x")),
			onUser:     reply(nil, &webpubsub.EventError{StatusCode: http.StatusBadRequest, Message: "message too long"}),
			wantCalled: true, wantData: []byte("x"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusBadRequest, wantBody: "message too long",
		},
		"an EventError with a server status keeps it": {
			event:      userEvent("message", "text/plain", []byte("x")),
			onUser:     reply(nil, &webpubsub.EventError{StatusCode: http.StatusServiceUnavailable, Message: "try later"}),
			wantCalled: true, wantData: []byte("x"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusServiceUnavailable, wantBody: "try later",
		},
		"a plain error answers 500 with a generic message": {
			event:      userEvent("message", "text/plain", []byte("x")),
			onUser:     reply(nil, errors.New("redis: auth failed for key abc")),
			wantCalled: true, wantData: []byte("x"), wantType: webpubsub.ContentTypeText,
			wantStatus: http.StatusInternalServerError, wantBody: "the event handler failed to handle the user event",
		},
		"an unsupported content type answers 400 without calling OnUserEvent": {
			event:      userEvent("message", "image/png", binary),
			onUser:     reply(nil, nil),
			wantStatus: http.StatusBadRequest, wantBody: `unsupported Content-Type "image/png" for a user event: want text/plain, application/json or application/octet-stream`,
		},
		"a malformed content type answers 400": {
			event:      userEvent("message", "text/", binary),
			onUser:     reply(nil, nil),
			wantStatus: http.StatusBadRequest, wantBody: `malformed Content-Type "text/"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got *webpubsub.UserEventRequest
			srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{
				OnUserEvent: func(ctx context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
					mu.Lock()
					got = req
					mu.Unlock()
					return tc.onUser(ctx, req)
				},
			})
			resp, body := sendEvent(t, srv, tc.event)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			if body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
			if tc.wantContentType != "" && resp.Header.Get("Content-Type") != tc.wantContentType {
				t.Errorf("Content-Type = %q, want %q", resp.Header.Get("Content-Type"), tc.wantContentType)
			}
			mu.Lock()
			defer mu.Unlock()
			if !tc.wantCalled {
				if got != nil {
					t.Fatalf("OnUserEvent called with %q, want no call", got.Data)
				}
				return
			}
			if got == nil {
				t.Fatal("OnUserEvent was not called")
			}
			if got.Context.EventName != tc.event.eventName || got.Context.EventType != tc.event.ceType {
				t.Errorf("event = %q (%q), want %q (%q)", got.Context.EventName, got.Context.EventType, tc.event.eventName, tc.event.ceType)
			}
			if string(got.Data) != string(tc.wantData) {
				t.Errorf("Data = %q, want %q", got.Data, tc.wantData)
			}
			if got.ContentType != tc.wantType {
				t.Errorf("ContentType = %q, want %q", got.ContentType, tc.wantType)
			}
		})
	}
}
