// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/chathub/chathub/webpubsub"
)

func TestEventHandlerAbuseProtection(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		allowed    []string
		origins    []string // WebHook-Request-Origin header lines; nil sends none
		wantStatus int
		wantOrigin string
		wantBody   string
	}{
		"the service host is allowed": {
			allowed:    []string{ehOrigin},
			origins:    []string{ehOrigin},
			wantStatus: http.StatusOK,
			wantOrigin: ehOrigin,
		},
		"the matching host of a comma-separated list is echoed": {
			allowed:    []string{"chat.contoso.com"},
			origins:    []string{"my-service.webpubsub.azure.com, chat.contoso.com"},
			wantStatus: http.StatusOK,
			wantOrigin: "chat.contoso.com",
		},
		"the first allowed host of the list is echoed": {
			allowed:    []string{"b.example.com", "c.example.com"},
			origins:    []string{"a.example.com,c.example.com,b.example.com"},
			wantStatus: http.StatusOK,
			wantOrigin: "c.example.com",
		},
		"hosts are compared case-insensitively": {
			allowed:    []string{"My-Service.WebPubSub.Azure.com"},
			origins:    []string{"MY-SERVICE.webpubsub.azure.com"},
			wantStatus: http.StatusOK,
			wantOrigin: "MY-SERVICE.webpubsub.azure.com",
		},
		"an allowed origin written as a URL with a port matches its host": {
			allowed:    []string{"http://localhost:8080/"},
			origins:    []string{"localhost"},
			wantStatus: http.StatusOK,
			wantOrigin: "localhost",
		},
		"a wildcard allows any host and echoes it": {
			allowed:    []string{"*"},
			origins:    []string{"anything.example.org"},
			wantStatus: http.StatusOK,
			wantOrigin: "anything.example.org",
		},
		"repeated header lines are all considered": {
			allowed:    []string{"second.example.com"},
			origins:    []string{"first.example.com", "second.example.com"},
			wantStatus: http.StatusOK,
			wantOrigin: "second.example.com",
		},
		"a host that is not allowed is refused with 400": {
			allowed:    []string{ehOrigin},
			origins:    []string{"evil.example.com"},
			wantStatus: http.StatusBadRequest,
			wantBody:   "none of the hosts in WebHook-Request-Origin is an allowed origin of this event handler",
		},
		"a list without an allowed host is refused with 400": {
			allowed:    []string{ehOrigin},
			origins:    []string{"evil.example.com, my-service.webpubsub.azure.com.evil.example.com"},
			wantStatus: http.StatusBadRequest,
			wantBody:   "none of the hosts in WebHook-Request-Origin is an allowed origin",
		},
		"a suffix of an allowed host is refused": {
			allowed:    []string{ehOrigin},
			origins:    []string{"webpubsub.azure.com"},
			wantStatus: http.StatusBadRequest,
			wantBody:   "is an allowed origin",
		},
		"a missing header is refused with 400": {
			allowed:    []string{"*"},
			wantStatus: http.StatusBadRequest,
			wantBody:   "missing header WebHook-Request-Origin",
		},
		"an empty list is refused with 400 even with a wildcard": {
			allowed:    []string{"*"},
			origins:    []string{" , ,"},
			wantStatus: http.StatusBadRequest,
			wantBody:   "is an allowed origin",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := startEventHandler(t, webpubsub.EventHandlerOptions{AllowedOrigins: tc.allowed})
			req, err := http.NewRequest(http.MethodOptions, srv.URL+"/eventhandler", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tc.origins {
				req.Header.Add(webpubsub.HeaderRequestOrigin, o)
			}
			req.Header.Set(webpubsub.HeaderAWPSVersion, "1.0")
			resp, body := doRequest(t, srv.Client(), req)
			wantResponse(t, resp, body, tc.wantStatus, tc.wantBody)
			if got := resp.Header.Get(webpubsub.HeaderAllowedOrigin); got != tc.wantOrigin {
				t.Errorf("WebHook-Allowed-Origin = %q, want %q", got, tc.wantOrigin)
			}
		})
	}
}

func TestNewEventHandlerValidatesOptions(t *testing.T) {
	t.Parallel()
	keys := func() []string { return []string{ehKey1} }
	tests := map[string]struct {
		opts    webpubsub.EventHandlerOptions
		wantErr string
	}{
		"a missing hub is an error": {
			opts:    webpubsub.EventHandlerOptions{AccessKeys: keys, AllowedOrigins: []string{"*"}},
			wantErr: "hub name is empty",
		},
		"an invalid hub is an error": {
			opts:    webpubsub.EventHandlerOptions{Hub: "1chat", AccessKeys: keys, AllowedOrigins: []string{"*"}},
			wantErr: `hub name "1chat" is invalid`,
		},
		"missing access keys are an error": {
			opts:    webpubsub.EventHandlerOptions{Hub: ehHub, AllowedOrigins: []string{"*"}},
			wantErr: "AccessKeys is required",
		},
		"no allowed origins is an error": {
			opts:    webpubsub.EventHandlerOptions{Hub: ehHub, AccessKeys: keys},
			wantErr: "AllowedOrigins is empty",
		},
		"an allowed origin without a host is an error": {
			opts:    webpubsub.EventHandlerOptions{Hub: ehHub, AccessKeys: keys, AllowedOrigins: []string{"https://"}},
			wantErr: `allowed origin "https://" has no host`,
		},
		"a negative body limit is an error": {
			opts:    webpubsub.EventHandlerOptions{Hub: ehHub, AccessKeys: keys, AllowedOrigins: []string{"*"}, MaxBodyBytes: -1},
			wantErr: "MaxBodyBytes is -1",
		},
		"complete options are accepted": {
			opts: webpubsub.EventHandlerOptions{Hub: ehHub, AccessKeys: keys, AllowedOrigins: []string{ehOrigin}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h, err := webpubsub.NewEventHandler(tc.opts)
			if tc.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("NewEventHandler = %v, %v; want a handler", h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewEventHandler error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// TestEventHandlerLogsNoSecrets sends events carrying a signature, states, tokens and message
// bodies, and checks that the log names the connection but none of those.
func TestEventHandlerLogsNoSecrets(t *testing.T) {
	t.Parallel()
	srv, logs := startEventHandler(t, webpubsub.EventHandlerOptions{
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			return nil, req.Context.SetState("secret-state-key", "secret-state-value")
		},
		OnUserEvent: func(context.Context, *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			return &webpubsub.UserEventResponse{Data: []byte("secret-reply"), ContentType: webpubsub.ContentTypeText}, nil
		},
	})
	state := base64.StdEncoding.EncodeToString([]byte(`{"secret-state-key":"secret-state-value"}`))
	connect := connectEvent(`{"query":{"access_token":["secret-token"]},"claims":{"sub":["alice"]}}`)
	connect.userID = "alice"
	message := userEvent("message", webpubsub.ContentTypeText, []byte("secret-message"))
	message.userID, message.state = "alice", state
	forged := userEvent("message", webpubsub.ContentTypeText, []byte("secret-forged-message"))
	forged.signature = webpubsub.Signature(ehKey1, "other-connection")
	badState := userEvent("message", webpubsub.ContentTypeText, []byte("x"))
	badState.state = "c2VjcmV0" + "!!" // not base64
	for _, e := range []ceEvent{connect, message, forged, badState} {
		sendEvent(t, srv, e)
	}
	out := logs.String()
	for _, secret := range []string{
		ehKey1, ehKey2, "secret-token", "secret-state", state, "secret-message", "secret-reply",
		"secret-forged", "c2VjcmV0", forged.signature, strings.TrimPrefix(webpubsub.Signature(ehKey1, ehConnID), "sha256="),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}
	for _, field := range []string{"hub=chat", "conn=" + ehConnID, "user=alice", "event=connect", "event=message"} {
		if !strings.Contains(out, field) {
			t.Errorf("the log lacks %q:\n%s", field, out)
		}
	}
}
