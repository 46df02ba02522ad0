// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chathub/chathub/webpubsub"
)

func TestEventHandlerSignatures(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		signature  string
		omit       bool
		wantStatus int
		wantBody   string
	}{
		"the service's header with both keys is accepted": {
			signature:  webpubsub.SignatureHeader([]string{ehKey1, ehKey2}, ehConnID),
			wantStatus: http.StatusNoContent,
		},
		"a signature with the second key alone is accepted (key rotation)": {
			signature:  webpubsub.Signature(ehKey2, ehConnID),
			wantStatus: http.StatusNoContent,
		},
		"a list with several entries where only the last one is valid is accepted": {
			signature:  webpubsub.Signature("old-key-1", ehConnID) + ", " + webpubsub.Signature("old-key-2", ehConnID) + "," + webpubsub.Signature(ehKey1, ehConnID),
			wantStatus: http.StatusNoContent,
		},
		"a signature in upper-case hex is accepted": {
			signature:  "sha256=" + strings.ToUpper(strings.TrimPrefix(webpubsub.Signature(ehKey1, ehConnID), "sha256=")),
			wantStatus: http.StatusNoContent,
		},
		"a forged signature is refused with 401": {
			signature:  webpubsub.Signature("attacker-key", ehConnID),
			wantStatus: http.StatusUnauthorized,
			wantBody:   "ce-signature does not match any access key",
		},
		"a list of forged signatures is refused with 401": {
			signature:  webpubsub.SignatureHeader([]string{"attacker-1", "attacker-2"}, ehConnID),
			wantStatus: http.StatusUnauthorized,
			wantBody:   "ce-signature does not match any access key",
		},
		"a valid signature of another connection is refused with 401": {
			signature:  webpubsub.SignatureHeader([]string{ehKey1, ehKey2}, "another-connection"),
			wantStatus: http.StatusUnauthorized,
			wantBody:   "ce-signature does not match any access key",
		},
		"a signature without the sha256= prefix is refused with 401": {
			signature:  strings.TrimPrefix(webpubsub.Signature(ehKey1, ehConnID), "sha256="),
			wantStatus: http.StatusUnauthorized,
			wantBody:   "ce-signature does not match any access key",
		},
		"a missing signature is refused with 401": {
			omit:       true,
			wantStatus: http.StatusUnauthorized,
			wantBody:   "missing header ce-signature",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv, logs := startEventHandler(t, webpubsub.EventHandlerOptions{
				OnUserEvent: func(context.Context, *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
					calls.Add(1)
					return nil, nil
				},
			})
			e := userEvent("message", "text/plain", []byte("hi"))
			e.signature = tc.signature
			if tc.omit {
				e.omit = []string{webpubsub.HeaderSignature}
			}
			resp, body := sendEvent(t, srv, e)
			wantResponse(t, resp, body, tc.wantStatus, tc.wantBody)
			wantCalls := int32(0)
			if tc.wantStatus < 300 {
				wantCalls = 1
			}
			if got := calls.Load(); got != wantCalls {
				t.Errorf("OnUserEvent called %d times, want %d", got, wantCalls)
			}
			if tc.signature != "" && strings.Contains(logs.String(), strings.Split(tc.signature, ",")[0]) {
				t.Errorf("the log contains the signature:\n%s", logs.String())
			}
		})
	}
}

func TestEventHandlerFollowsKeyRotation(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	keys := []string{ehKey1, "old-secondary-key"}
	srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{AccessKeys: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), keys...)
	}})
	sendWithKeys := func(k ...string) int {
		e := ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", signature: webpubsub.SignatureHeader(k, ehConnID)}
		resp, _ := sendEvent(t, srv, e)
		return resp.StatusCode
	}
	if got := sendWithKeys("old-secondary-key"); got != http.StatusNoContent {
		t.Fatalf("before rotation: status = %d, want 204", got)
	}
	mu.Lock()
	keys = []string{ehKey1, ehKey2}
	mu.Unlock()
	if got := sendWithKeys("old-secondary-key"); got != http.StatusUnauthorized {
		t.Errorf("retired key after rotation: status = %d, want 401", got)
	}
	if got := sendWithKeys(ehKey2); got != http.StatusNoContent {
		t.Errorf("new secondary key after rotation: status = %d, want 204", got)
	}
	mu.Lock()
	keys = nil
	mu.Unlock()
	if got := sendWithKeys(ehKey1, ehKey2); got != http.StatusUnauthorized {
		t.Errorf("no keys configured: status = %d, want 401", got)
	}
}

func TestEventHandlerRejectsMissingRequiredHeaders(t *testing.T) {
	t.Parallel()
	srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{})
	required := []string{
		webpubsub.HeaderSpecVersion, webpubsub.HeaderType, webpubsub.HeaderConnectionID,
		webpubsub.HeaderHub, webpubsub.HeaderEventName,
	}
	for _, h := range required {
		t.Run("an event without "+h+" is refused with 400 naming it", func(t *testing.T) {
			t.Parallel()
			for _, e := range []ceEvent{
				connectEvent(`{}`),
				userEvent("message", "text/plain", []byte("hi")),
			} {
				e.omit = []string{h}
				resp, body := sendEvent(t, srv, e)
				wantResponse(t, resp, body, http.StatusBadRequest, "missing required header "+h)
			}
		})
	}
}

func TestEventHandlerRejectsBadEvents(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("a"), 2048)
	tests := map[string]struct {
		event      ceEvent
		chunked    bool // send the body without Content-Length
		wantStatus int
		wantBody   string
	}{
		"an event for another hub is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", hub: "other"},
			wantStatus: http.StatusBadRequest,
			wantBody:   `event for hub "other": this handler serves hub "chat"`,
		},
		"the hub is compared case-insensitively": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", hub: "CHAT"},
			wantStatus: http.StatusNoContent,
		},
		"an unknown ce-type is refused with 400": {
			event:      ceEvent{ceType: "azure.webpubsub.sys.reboot", eventName: "reboot"},
			wantStatus: http.StatusBadRequest,
			wantBody:   `unknown ce-type "azure.webpubsub.sys.reboot"`,
		},
		"a user event type without a name is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeUserPrefix, eventName: "x"},
			wantStatus: http.StatusBadRequest,
			wantBody:   `unknown ce-type "azure.webpubsub.user."`,
		},
		"another CloudEvents spec version is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", extra: map[string]string{webpubsub.HeaderSpecVersion: "0.3"}},
			wantStatus: http.StatusBadRequest,
			wantBody:   `unsupported ce-specversion "0.3": want 1.0`,
		},
		"a malformed ce-time is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", ceTime: "yesterday"},
			wantStatus: http.StatusBadRequest,
			wantBody:   `malformed ce-time "yesterday": want an RFC 3339 time`,
		},
		"a body over the limit is refused with 400": {
			event:      userEvent("message", "text/plain", big),
			wantStatus: http.StatusBadRequest,
			wantBody:   "request body is 2048 bytes, the limit is 1024",
		},
		"a streamed body over the limit is refused with 400": {
			event:      userEvent("message", "text/plain", big),
			chunked:    true,
			wantStatus: http.StatusBadRequest,
			wantBody:   "request body exceeds the limit of 1024 bytes",
		},
		"a body at the limit is accepted": {
			event:      userEvent("message", "text/plain", big[:1024]),
			chunked:    true,
			wantStatus: http.StatusNoContent,
		},
		"an oversized connect body is refused with 400": {
			event:      connectEvent(`{"claims":{"x":["` + string(big) + `"]}}`),
			wantStatus: http.StatusBadRequest,
			wantBody:   "the limit is 1024",
		},
		"a malformed connect body is refused with 400": {
			event:      connectEvent(`{"claims": {"sub": ["alice"]`),
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed connect event body: truncated JSON",
		},
		"a connect body that is not JSON is refused with 400": {
			event:      connectEvent(`claims=alice`),
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed connect event body: invalid JSON at byte 1",
		},
		"a connect body with claims of the wrong shape is refused with 400": {
			event:      connectEvent(`{"claims": {"sub": {"nested": true}}}`),
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed connect event body: a value is a nested object or array, want strings",
		},
		"a connect body with subprotocols of the wrong type is refused with 400": {
			event:      connectEvent(`{"subprotocols": {"a": 1}}`),
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed connect event body",
		},
		"a malformed disconnected body is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeDisconnected, eventName: "disconnected", body: []byte(`{"reason":`)},
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed disconnected event body",
		},
		"a disconnected reason of the wrong type is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeDisconnected, eventName: "disconnected", body: []byte(`{"reason":42}`)},
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed disconnected event body: field reason has the wrong type (number)",
		},
		"a connection state that is not base64 is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", state: "not base64!"},
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed ce-connectionState: it is not valid base64",
		},
		"a connection state that is not JSON is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", state: "bm90IGpzb24="}, // "not json"
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed ce-connectionState: it is not the base64 of a JSON object",
		},
		"a connection state that is a JSON array is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", state: "WzEsMl0="}, // [1,2]
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed ce-connectionState: it is not the base64 of a JSON object",
		},
		"a connection state with broken JSON is refused with 400": {
			event:      ceEvent{ceType: webpubsub.EventTypeConnected, eventName: "connected", state: "eyJhIjo="}, // {"a":
			wantStatus: http.StatusBadRequest,
			wantBody:   "malformed ce-connectionState: it is not the base64 of a valid JSON object",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{
				MaxBodyBytes: 1024,
				OnConnect: func(context.Context, *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
					calls.Add(1)
					return nil, nil
				},
				OnConnected:    func(context.Context, *webpubsub.ConnectedRequest) { calls.Add(1) },
				OnDisconnected: func(context.Context, *webpubsub.DisconnectedRequest) { calls.Add(1) },
				OnUserEvent: func(context.Context, *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
					calls.Add(1)
					return nil, nil
				},
			})
			e := tc.event
			if tc.chunked {
				// Hiding the length makes the client stream the body chunked.
				data := e.body
				e.body = nil
				resp, body := sendStreamed(t, srv, e, data)
				wantResponse(t, resp, body, tc.wantStatus, tc.wantBody)
			} else {
				resp, body := sendEvent(t, srv, e)
				wantResponse(t, resp, body, tc.wantStatus, tc.wantBody)
			}
			wantCalls := int32(0)
			if tc.wantStatus < 300 {
				wantCalls = 1
			}
			if got := calls.Load(); got != wantCalls {
				t.Errorf("callbacks called %d times, want %d", got, wantCalls)
			}
		})
	}
}

// sendStreamed sends e with data as a body of unknown length (chunked transfer encoding).
func sendStreamed(t *testing.T, srv *httptest.Server, e ceEvent, data []byte) (*http.Response, string) {
	t.Helper()
	return sendEventBody(t, srv, e, io.NopCloser(bytes.NewReader(data)))
}

func TestEventHandlerRejectsOtherMethods(t *testing.T) {
	t.Parallel()
	srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{})
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, err := http.NewRequest(m, srv.URL+"/eventhandler", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := doRequest(t, srv.Client(), req)
		wantResponse(t, resp, body, http.StatusMethodNotAllowed, "the event handler accepts OPTIONS and POST")
		if got := resp.Header.Get("Allow"); got != "OPTIONS, POST" {
			t.Errorf("%s: Allow = %q, want %q", m, got, "OPTIONS, POST")
		}
	}
}
