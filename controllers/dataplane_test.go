// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// The operator's image runs the light data-plane binary; an image the spec
// names keeps its entrypoint, since it may not have that binary.
func TestDataPlaneCommand(t *testing.T) {
	tests := map[string]struct {
		mutate                 func(*chatv1.ChatHub)
		wantServer, wantPubSub []string
	}{
		"the operator's image runs chathub-data in both pods": {
			wantServer: []string{"/chathub-data"}, wantPubSub: []string{"/chathub-data"},
		},
		"a chat server image is run with its entrypoint, and is the PubSub service's image too": {
			mutate:     func(h *chatv1.ChatHub) { h.Spec.Server.Image = "example.com/chat:1" },
			wantServer: nil, wantPubSub: nil,
		},
		"a PubSub service image is run with its entrypoint, the chat server still runs chathub-data": {
			mutate:     func(h *chatv1.ChatHub) { h.Spec.WebPubSub.Embedded.Image = "example.com/pubsub:1" },
			wantServer: []string{"/chathub-data"}, wantPubSub: nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := hubFor(tc.mutate)
			server := buildChatServerDeployment(h, "img", "hash").Spec.Template.Spec.Containers[0]
			pubsub := buildEmbeddedDeployment(h, h.Spec.WebPubSub.Embedded, "img", "hash").Spec.Template.Spec.Containers[0]
			if diff := cmp.Diff(tc.wantServer, server.Command); diff != "" {
				t.Errorf("chat server command (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantPubSub, pubsub.Command); diff != "" {
				t.Errorf("PubSub service command (-want +got):\n%s", diff)
			}
			if server.Args[0] != "chatserver" || pubsub.Args[0] != "pubsub" {
				t.Errorf("args %q and %q, want the subcommands first", server.Args, pubsub.Args)
			}
		})
	}
}
