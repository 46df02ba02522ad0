// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chathub/chathub/webpubsub"
)

// TestEventHandlerConnectionStateRoundTrip follows one connection through connect and user
// events, carrying the states back as the service does.
func TestEventHandlerConnectionStateRoundTrip(t *testing.T) {
	t.Parallel()
	type profile struct {
		Name string `json:"name"`
		Room string `json:"room"`
	}
	var mu sync.Mutex
	var seen []map[string]json.RawMessage
	srv, logs := startEventHandler(t, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			if err := req.Context.SetState("profile", profile{Name: "alice", Room: "lobby"}); err != nil {
				return nil, err
			}
			if err := req.Context.SetState("messages", 0); err != nil {
				return nil, err
			}
			return &webpubsub.ConnectResponse{UserID: "alice"}, nil
		},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			mu.Lock()
			seen = append(seen, req.Context.States)
			mu.Unlock()
			switch string(req.Data) {
			case "count":
				var n int
				if err := json.Unmarshal(req.Context.States["messages"], &n); err != nil {
					return nil, &webpubsub.EventError{StatusCode: http.StatusBadRequest, Message: "no counter"}
				}
				if err := req.Context.SetState("messages", n+1); err != nil {
					return nil, err
				}
				var p profile
				if err := json.Unmarshal(req.Context.States["profile"], &p); err != nil {
					return nil, err
				}
				return &webpubsub.UserEventResponse{Data: []byte(p.Name), ContentType: webpubsub.ContentTypeText}, nil
			case "logout":
				req.Context.ClearStates()
			}
			return nil, nil
		},
	})

	resp, body := sendEvent(t, srv, connectEvent(`{}`))
	wantResponse(t, resp, body, http.StatusOK, `{"userId":"alice"}`)
	state := resp.Header.Get(webpubsub.HeaderConnectionState)
	want := map[string]any{"profile": map[string]any{"name": "alice", "room": "lobby"}, "messages": float64(0)}
	if diff := cmp.Diff(want, decodeStateHeader(t, state)); diff != "" {
		t.Fatalf("states after connect (-want +got):\n%s", diff)
	}

	for i := 1; i <= 2; i++ {
		e := userEvent("message", webpubsub.ContentTypeText, []byte("count"))
		e.userID, e.state = "alice", state
		resp, body = sendEvent(t, srv, e)
		wantResponse(t, resp, body, http.StatusOK, "alice")
		state = resp.Header.Get(webpubsub.HeaderConnectionState)
		want["messages"] = float64(i)
		if diff := cmp.Diff(want, decodeStateHeader(t, state)); diff != "" {
			t.Fatalf("states after count %d (-want +got):\n%s", i, diff)
		}
	}

	e := userEvent("message", webpubsub.ContentTypeText, []byte("no change"))
	e.state = state
	resp, body = sendEvent(t, srv, e)
	wantResponse(t, resp, body, http.StatusNoContent, "")
	if v := resp.Header.Get(webpubsub.HeaderConnectionState); v != "" {
		t.Errorf("ce-connectionState = %q after an event that changed nothing, want none", v)
	}

	e = userEvent("message", webpubsub.ContentTypeText, []byte("logout"))
	e.state = state
	resp, body = sendEvent(t, srv, e)
	wantResponse(t, resp, body, http.StatusNoContent, "")
	if got := resp.Header.Get(webpubsub.HeaderConnectionState); got != base64.StdEncoding.EncodeToString([]byte("{}")) {
		t.Errorf("ce-connectionState after ClearStates = %q, want the empty object", got)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 {
		t.Fatalf("OnUserEvent saw %d events, want 4", len(seen))
	}
	var last profile
	if err := json.Unmarshal(seen[3]["profile"], &last); err != nil || last.Name != "alice" {
		t.Errorf("the logout event saw profile %q (%v), want alice", seen[3]["profile"], err)
	}
	for _, secret := range []string{state, "lobby", "count"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs.String())
		}
	}
}

func TestEventHandlerConnectionStateEdges(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		state      string
		onConnect  func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error)
		wantStatus int
		wantBody   string
		wantStates map[string]any // decoded response header; nil means no header
	}{
		"unpadded base64 state is accepted": {
			state: base64.RawStdEncoding.EncodeToString([]byte(`{"k":"v1"}`)),
			onConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
				var v string
				if err := json.Unmarshal(req.Context.States["k"], &v); err != nil || v != "v1" {
					return nil, &webpubsub.EventError{StatusCode: http.StatusBadRequest, Message: "state k not seen"}
				}
				return nil, nil
			},
			wantStatus: http.StatusNoContent,
		},
		"a state set on a 204 accept is sent back": {
			onConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
				return nil, req.Context.SetState("k", []int{1, 2})
			},
			wantStatus: http.StatusNoContent,
			wantStates: map[string]any{"k": []any{float64(1), float64(2)}},
		},
		"a state set before a rejection is not sent back": {
			onConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
				_ = req.Context.SetState("k", "v")
				return nil, &webpubsub.EventError{StatusCode: http.StatusForbidden, Message: "no"}
			},
			wantStatus: http.StatusForbidden,
			wantBody:   "no",
		},
		"a state the app wrote as invalid raw JSON answers 500": {
			onConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
				req.Context.ClearStates()
				req.Context.States["bad"] = json.RawMessage("{not json")
				return nil, nil
			},
			wantStatus: http.StatusInternalServerError,
			wantBody:   "the event handler failed to encode the connection states",
		},
		"a value that cannot be encoded is refused by SetState and changes nothing": {
			state: stateHeaderMust(map[string]any{"keep": true}),
			onConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
				if err := req.Context.SetState("ch", make(chan int)); err == nil {
					return nil, &webpubsub.EventError{StatusCode: http.StatusBadRequest, Message: "SetState accepted a channel"}
				}
				return nil, nil
			},
			wantStatus: http.StatusNoContent,
		},
		"an empty state header means no states": {
			onConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
				if req.Context.States != nil {
					return nil, &webpubsub.EventError{StatusCode: http.StatusBadRequest, Message: "unexpected states"}
				}
				return nil, nil
			},
			wantStatus: http.StatusNoContent,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{OnConnect: tc.onConnect})
			e := connectEvent(`{}`)
			e.state = tc.state
			resp, body := sendEvent(t, srv, e)
			if resp.StatusCode != tc.wantStatus || body != tc.wantBody {
				t.Fatalf("response = %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			got := resp.Header.Get(webpubsub.HeaderConnectionState)
			if tc.wantStates == nil {
				if got != "" {
					t.Fatalf("ce-connectionState = %q, want none", got)
				}
				return
			}
			if diff := cmp.Diff(tc.wantStates, decodeStateHeader(t, got)); diff != "" {
				t.Fatalf("states (-want +got):\n%s", diff)
			}
		})
	}
}

func stateHeaderMust(states map[string]any) string {
	b, err := json.Marshal(states)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
