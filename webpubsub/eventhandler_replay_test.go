// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// A captured event is correctly signed forever (the signature covers only the connection
// id): the replay window is what refuses it later.
func TestEventHandlerReplayWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	stamp := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	tests := map[string]struct {
		tolerance  time.Duration
		ceTime     string
		omitTime   bool
		wantStatus int
		wantBody   string
	}{
		"an event sent just now is accepted": {ceTime: stamp(-time.Second), wantStatus: http.StatusNoContent},
		"an event 4m59s old is accepted with the default window": {
			ceTime: stamp(-4*time.Minute - 59*time.Second), wantStatus: http.StatusNoContent,
		},
		"an event replayed a day later is refused with 401": {
			ceTime: stamp(-24 * time.Hour), wantStatus: http.StatusUnauthorized,
			wantBody: "ce-time 2026-11-29T12:00:00Z is 24h0m0s from this server's clock, more than the tolerance of 5m0s: refused as a possible replay",
		},
		"an event 5m01s old is refused with 401": {
			ceTime: stamp(-5*time.Minute - time.Second), wantStatus: http.StatusUnauthorized, wantBody: "refused as a possible replay",
		},
		"an event stamped 6 minutes in the future is refused with 401": {
			ceTime: stamp(6 * time.Minute), wantStatus: http.StatusUnauthorized, wantBody: "refused as a possible replay",
		},
		"an event without ce-time is refused with 401": {
			omitTime: true, wantStatus: http.StatusUnauthorized,
			wantBody: "missing header ce-time: events without a time are refused as possible replays",
		},
		"a configured window of 30s refuses an event 31s old": {
			tolerance: 30 * time.Second, ceTime: stamp(-31 * time.Second), wantStatus: http.StatusUnauthorized,
			wantBody: "more than the tolerance of 30s",
		},
		"a negative window turns the check off": {
			tolerance: -1, ceTime: stamp(-24 * time.Hour), wantStatus: http.StatusNoContent,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var delivered atomic.Int32
			srv, logs := startEventHandler(t, webpubsub.EventHandlerOptions{
				TimeTolerance: tc.tolerance,
				Now:           func() time.Time { return now },
				OnUserEvent: func(context.Context, *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
					delivered.Add(1)
					return nil, nil
				},
			})
			e := userEvent("message", webpubsub.ContentTypeText, []byte("replayed as mallory"))
			e.userID = "mallory"
			e.ceTime = tc.ceTime
			if tc.omitTime {
				e.omit = []string{webpubsub.HeaderTime}
			}
			resp, body := sendEvent(t, srv, e)
			wantResponse(t, resp, body, tc.wantStatus, tc.wantBody)
			wantDelivered := int32(1)
			if tc.wantStatus != http.StatusNoContent {
				wantDelivered = 0
				if !strings.Contains(logs.String(), "possible replay") {
					t.Errorf("the log does not give the reason:\n%s", logs.String())
				}
			}
			if got := delivered.Load(); got != wantDelivered {
				t.Errorf("OnUserEvent ran %d times, want %d", got, wantDelivered)
			}
		})
	}
}
