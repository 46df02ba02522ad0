// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package settings

import (
	"strings"
	"testing"

	"github.com/chathub/chathub/webpubsub"
)

func handlerSettings(h webpubsub.EventHandlerSettings) *webpubsub.HubSettings {
	return &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{h}}}
}

func int32p(v int32) *int32 { return &v }

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		hs      *webpubsub.HubSettings
		wantErr string // substring; "" => valid
	}{
		"a full handler with every system event is valid": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "https://chat.example.com/api/{hub}/{event}?code=x", UserEventPattern: "*", SystemEvents: []string{"connect", "connected", "disconnected"}}),
		},
		"placeholders in the query are valid": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://127.0.0.1:8080/events?hub={hub}&e={event}"}),
		},
		"a comma list of event names is valid": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x", UserEventPattern: "message, join,leave"}),
		},
		"managed identity auth is valid": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x", Auth: &webpubsub.UpstreamAuthSettings{Type: "ManagedIdentity", ManagedIdentity: &webpubsub.ManagedIdentitySettings{Resource: "api://x"}}}),
		},
		"no handlers at all are valid": {
			hs: &webpubsub.HubSettings{},
		},
		"nil settings are refused": {
			hs: nil, wantErr: "hub settings are missing",
		},
		"an empty URL template is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{}), wantErr: "eventHandlers[0]: urlTemplate is empty",
		},
		"a relative URL template is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "/api/{event}"}), wantErr: "is not an absolute URL",
		},
		"an ftp URL template is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "ftp://h/x"}), wantErr: `scheme "ftp" is not supported`,
		},
		"a placeholder in the host is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://{hub}.example.com/api"}), wantErr: "placeholder in the host",
		},
		"a placeholder in the port is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h:{event}/api"}), wantErr: "placeholder in the host",
		},
		"an unknown placeholder is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/{user}"}), wantErr: "placeholder {user}; only {hub} and {event}",
		},
		"a URL without a host is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http:///api"}), wantErr: "has no host",
		},
		"user info in the URL is refused": {
			//nolint:gosec // G101: not a credential; the test checks that a URL with user info is refused
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://u:p@h/api"}), wantErr: "must not contain user info",
		},
		"an empty entry in the user event pattern is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x", UserEventPattern: "a,,b"}), wantErr: "empty entry at position 2",
		},
		"a star inside a list is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x", UserEventPattern: "a,*"}), wantErr: `mixes "*" with names`,
		},
		"a user event name with a space is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x", UserEventPattern: "bad name"}), wantErr: `entry "bad name" is not an event name`,
		},
		"an unknown system event is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x", SystemEvents: []string{"connect", "joined"}}), wantErr: `systemEvents[1] is "joined"`,
		},
		"an unknown auth type is refused": {
			hs: handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x", Auth: &webpubsub.UpstreamAuthSettings{Type: "Basic"}}), wantErr: `auth.type is "Basic"`,
		},
		"an unknown anonymous connect policy is refused": {
			hs: &webpubsub.HubSettings{Properties: webpubsub.HubProperties{AnonymousConnectPolicy: "maybe"}}, wantErr: `anonymousConnectPolicy is "maybe"`,
		},
		"a keep-alive of 0 seconds is refused": {
			hs: &webpubsub.HubSettings{Properties: webpubsub.HubProperties{WebSocketKeepAliveIntervalInSeconds: int32p(0)}}, wantErr: "webSocketKeepAliveIntervalInSeconds is 0; it must be between 1 and 120",
		},
		"a keep-alive of 121 seconds is refused": {
			hs: &webpubsub.HubSettings{Properties: webpubsub.HubProperties{WebSocketKeepAliveIntervalInSeconds: int32p(121)}}, wantErr: "is 121",
		},
		"a keep-alive of 120 seconds is valid": {
			hs: &webpubsub.HubSettings{Properties: webpubsub.HubProperties{WebSocketKeepAliveIntervalInSeconds: int32p(120), AnonymousConnectPolicy: "Deny"}},
		},
		"the second handler's error names its index": {
			hs: &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{
				{URLTemplate: "http://h/ok"}, {URLTemplate: "mailto:x"},
			}}},
			wantErr: "eventHandlers[1]:",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tc.hs)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestExpandTemplate(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		tmpl, hub, event, want string
	}{
		"hub and event go into the path":        {"http://h/api/{hub}/{event}", "chat", "connect", "http://h/api/chat/connect"},
		"special characters are escaped":        {"http://h/{hub}/{event}", "a`b[c]", "x y", "http://h/a%60b%5Bc%5D/x%20y"},
		"placeholders in the query are filled":  {"http://h/e?hub={hub}&code=k", "chat", "m", "http://h/e?hub=chat&code=k"},
		"a template without placeholders stays": {"http://h/e", "chat", "m", "http://h/e"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := ExpandTemplate(tc.tmpl, tc.hub, tc.event); got != tc.want {
				t.Fatalf("ExpandTemplate(%q, %q, %q) = %q, want %q", tc.tmpl, tc.hub, tc.event, got, tc.want)
			}
		})
	}
}

func TestMatchUserEvent(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		pattern, event string
		want           bool
	}{
		"a star matches any event":            {"*", "message", true},
		"an empty pattern matches nothing":    {"", "message", false},
		"a single name matches itself":        {"message", "message", true},
		"matching ignores case":               {"Message", "message", true},
		"a list matches each of its names":    {"a, message ,b", "message", true},
		"a list does not match other names":   {"a,b", "message", false},
		"a name does not match a longer name": {"mess", "message", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := MatchUserEvent(tc.pattern, tc.event); got != tc.want {
				t.Fatalf("MatchUserEvent(%q, %q) = %v, want %v", tc.pattern, tc.event, got, tc.want)
			}
		})
	}
}
