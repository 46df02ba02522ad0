// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"net/http"
	"strings"
	"testing"
)

func TestEventHandlerBroadcastsChatEvents(t *testing.T) {
	t.Parallel()
	long4000 := strings.Repeat("ü", MaxMessageChars)

	tests := map[string]struct {
		event      cloudEvent
		wantStatus int
		// wantBroadcast holds the required fields of the one broadcast, nil
		// when nothing may be broadcast.
		wantBroadcast map[string]any
		// wantReply holds fields of the reply to the sender, nil for none.
		wantReply map[string]any
	}{
		"connected announces that the user joined": {
			event:         connectedEvent("alice"),
			wantStatus:    http.StatusNoContent,
			wantBroadcast: map[string]any{"type": "system", "message": "alice joined"},
		},
		"disconnected announces that the user left": {
			event:         disconnectedEvent("bob"),
			wantStatus:    http.StatusNoContent,
			wantBroadcast: map[string]any{"type": "system", "message": "bob left"},
		},
		"a text message is broadcast with its sender": {
			event:         messageEvent("alice", "text/plain", "hello <b>world</b>"),
			wantStatus:    http.StatusNoContent,
			wantBroadcast: map[string]any{"from": "alice", "message": "hello <b>world</b>", "connectionId": "conn-alice"},
		},
		"a JSON string message is broadcast as text": {
			event:         messageEvent("alice", "application/json", `"hi there"`),
			wantStatus:    http.StatusNoContent,
			wantBroadcast: map[string]any{"from": "alice", "message": "hi there", "connectionId": "conn-alice"},
		},
		"a message of exactly 4,000 characters is broadcast": {
			event:         messageEvent("carol", "text/plain", long4000),
			wantStatus:    http.StatusNoContent,
			wantBroadcast: map[string]any{"from": "carol", "message": long4000, "connectionId": "conn-carol"},
		},
		"a message over 4,000 characters is refused with a reply": {
			event:      messageEvent("alice", "text/plain", long4000+"!"),
			wantStatus: http.StatusOK,
			wantReply:  map[string]any{"type": "error", "code": "messageTooLong", "message": "Message not sent: it is 4,001 characters long and the limit is 4,000."},
		},
		"an empty message is refused": {
			event:      messageEvent("alice", "text/plain", "   "),
			wantStatus: http.StatusOK,
			wantReply:  map[string]any{"type": "error", "code": "emptyMessage"},
		},
		"a binary message is refused": {
			event:      messageEvent("alice", "application/octet-stream", "\x00\x01"),
			wantStatus: http.StatusOK,
			wantReply:  map[string]any{"type": "error", "code": "notText"},
		},
		"a JSON object message is refused": {
			event:      messageEvent("alice", "application/json", `{"x":1}`),
			wantStatus: http.StatusOK,
			wantReply:  map[string]any{"type": "error", "code": "notText"},
		},
		"another user event is accepted and ignored": {
			event: cloudEvent{Type: "azure.webpubsub.user.typing", EventName: "typing", UserID: "alice",
				ContentType: "text/plain", Body: "x"},
			wantStatus: http.StatusNoContent,
		},
		"a forged signature is refused": {
			event: func() cloudEvent {
				e := messageEvent("mallory", "text/plain", "forged")
				e.Signature = strPtr("sha256=" + strings.Repeat("0", 64))
				return e
			}(),
			wantStatus: http.StatusUnauthorized,
		},
		"a signature made with another key is refused": {
			event: func() cloudEvent {
				e := connectedEvent("mallory")
				e.Signature = strPtr("sha256=7767effcb3946f3e1de039df4b986ef02c110b1469d02c0a06f41b3b727ab561")
				return e
			}(),
			wantStatus: http.StatusUnauthorized,
		},
		"a missing signature is refused": {
			event:      func() cloudEvent { e := disconnectedEvent("mallory"); e.Signature = strPtr(""); return e }(),
			wantStatus: http.StatusUnauthorized,
		},
		"an event for another hub is refused": {
			event:      func() cloudEvent { e := connectedEvent("alice"); e.Hub = "other"; return e }(),
			wantStatus: http.StatusBadRequest,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rs := newRecordingService(t)
			_, ts := startChat(t, testConfig(rs.connectionString()))
			resp, body := tc.event.post(t, ts.URL)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.wantStatus, body)
			}
			sent := rs.sent()
			switch {
			case tc.wantBroadcast == nil && len(sent) != 0:
				t.Fatalf("broadcast %d messages, want none: %+v", len(sent), sent)
			case tc.wantBroadcast != nil && len(sent) != 1:
				t.Fatalf("broadcast %d messages, want 1", len(sent))
			case tc.wantBroadcast != nil:
				if sent[0].Path != "/api/hubs/chat/:send" {
					t.Errorf("broadcast to %s, want /api/hubs/chat/:send", sent[0].Path)
				}
				if !strings.HasPrefix(sent[0].ContentType, "application/json") {
					t.Errorf("broadcast Content-Type %q, want application/json", sent[0].ContentType)
				}
				got := decodeJSON(t, sent[0].Body)
				for k, want := range tc.wantBroadcast {
					if got[k] != want {
						t.Errorf("broadcast field %q = %v, want %v", k, got[k], want)
					}
				}
				if ts, _ := got["time"].(string); ts == "" {
					t.Errorf("broadcast has no server time: %s", sent[0].Body)
				}
			}
			if tc.wantReply != nil {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("reply Content-Type %q, want application/json", ct)
				}
				got := decodeJSON(t, body)
				for k, want := range tc.wantReply {
					if got[k] != want {
						t.Errorf("reply field %q = %v, want %v", k, got[k], want)
					}
				}
			}
		})
	}
}

func TestEventHandlerAbuseProtectionAllowsOnlyTheServiceHost(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	_, ts := startChat(t, testConfig(rs.connectionString()))

	tests := map[string]struct {
		origin     string
		wantStatus int
		wantAllow  string
	}{
		"the service's host is allowed":      {origin: "127.0.0.1", wantStatus: http.StatusOK, wantAllow: "127.0.0.1"},
		"another host is refused":            {origin: "evil.example.com", wantStatus: http.StatusBadRequest},
		"a missing origin header is refused": {origin: "", wantStatus: http.StatusBadRequest},
		"a look-alike host is refused":       {origin: "127.0.0.1.evil.example.com", wantStatus: http.StatusBadRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodOptions, ts.URL+"/eventhandler", nil)
			req.Header.Set("ce-awpsversion", "1.0")
			if tc.origin != "" {
				req.Header.Set("WebHook-Request-Origin", tc.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if got := resp.Header.Get("WebHook-Allowed-Origin"); got != tc.wantAllow {
				t.Errorf("WebHook-Allowed-Origin %q, want %q", got, tc.wantAllow)
			}
		})
	}
}

func TestEventHandlerRepliesWhenTheBroadcastFails(t *testing.T) {
	t.Parallel()
	rs := newRecordingService(t)
	rs.setStatus(http.StatusInternalServerError)
	srv, ts := startChat(t, testConfig(rs.connectionString()))

	resp, body := messageEvent("alice", "text/plain", "hello").post(t, ts.URL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 with a refusal (body %q)", resp.StatusCode, body)
	}
	if got := decodeJSON(t, body); got["code"] != "unavailable" || got["type"] != "error" {
		t.Errorf("reply %s, want an error with code unavailable", body)
	}
	metrics := metricsOf(t, srv)
	if !strings.Contains(metrics, `chathub_chatserver_failures_total{op="broadcast"} 1`) {
		t.Errorf("metrics do not count the failed broadcast:\n%s", grepLines(metrics, "failures_total"))
	}
}
