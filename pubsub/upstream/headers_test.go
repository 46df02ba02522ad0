// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"net/http"
	"testing"

	"github.com/chathub/chathub/webpubsub"
)

// TestEventHeadersDoNotShareValues checks that the CloudEvents headers, whose values share one
// backing array, stay apart when a value is added to one of them.
func TestEventHeadersDoNotShareValues(t *testing.T) {
	t.Parallel()
	d := NewDispatcher(Config{AccessKeys: func() []string { return []string{"key"} }})
	ev := &event{
		info:   ConnectionInfo{Hub: "chat", ConnectionID: "c1", UserID: "u1", Subprotocol: "json.webpubsub.azure.v1", State: "e30"},
		name:   "message",
		ceType: webpubsub.EventTypeUserPrefix + "message",
		id:     7,
	}
	h := http.Header{}
	d.setHeaders(h, ev)
	before := h.Clone()
	for k := range before {
		h[k] = append(h[k], "added")
		for k2, v := range before {
			if k2 != k && (len(h[k2]) != len(v) || h[k2][0] != v[0]) {
				t.Fatalf("adding a value to %s changed %s from %q to %q", k, k2, v, h[k2])
			}
		}
		h[k] = before[k]
	}
	// The headers keep the service's spellings (not canonical): read them as such.
	get := func(name string) []string { return h[name] }
	if got := get(webpubsub.HeaderConnectionID); len(got) != 1 || got[0] != "c1" {
		t.Errorf("%s = %q, want c1", webpubsub.HeaderConnectionID, got)
	}
	if got := get(webpubsub.HeaderID); len(got) != 1 || got[0] != "7" {
		t.Errorf("%s = %q, want 7", webpubsub.HeaderID, got)
	}
}
