// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
)

func TestReadiness(t *testing.T) {
	t.Parallel()
	errNoCRD := errors.New("no matches for kind ChatHub")
	tests := map[string]struct {
		leaderElect, elected bool
		synced               map[string]bool
		lookupErr            error
		wantErr              string
	}{
		"before the controllers start": {
			synced: map[string]bool{"ChatHub": true, "WebPubSubService": true}, wantErr: "the controllers have not started",
		},
		"started, a cache not synced": {
			elected: true, synced: map[string]bool{"ChatHub": true}, wantErr: "the cache of *v1.WebPubSubService has not synced",
		},
		"started and synced": {
			elected: true, synced: map[string]bool{"ChatHub": true, "WebPubSubService": true},
		},
		"a standby replica with leader election is ready once synced": {
			leaderElect: true, synced: map[string]bool{"ChatHub": true, "WebPubSubService": true},
		},
		"a standby replica is not ready before it has synced": {
			leaderElect: true, synced: map[string]bool{}, wantErr: "the cache of *v1.ChatHub has not synced",
		},
		"a kind the API server does not know": {
			elected: true, lookupErr: errNoCRD, wantErr: "watching *v1.ChatHub: no matches for kind ChatHub",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			elected := make(chan struct{})
			if tc.elected {
				close(elected)
			}
			r := newReadiness(nil, elected, tc.leaderElect)
			r.synced = func(_ context.Context, obj client.Object) (bool, error) {
				kind := map[bool]string{true: "ChatHub", false: "WebPubSubService"}[isChatHub(obj)]
				return tc.synced[kind], tc.lookupErr
			}
			err := r.check(httptest.NewRequest("GET", "/readyz", nil))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("check: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func isChatHub(obj client.Object) bool {
	_, ok := obj.(*chatv1.ChatHub)
	return ok
}
