// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestListConnectionsInGroupFollowsNextLink(t *testing.T) {
	t.Parallel()
	srv := newRESTServer(t, testKey,
		cannedResponse{status: 200, body: `{"value":[{"connectionId":"c1","userId":"u1"}],"nextLink":"/api/hubs/chat/groups/g/connections?continuationToken=abc"}`},
		cannedResponse{status: 200, body: `{"value":[{"connectionId":"c2"}],"nextLink":"NEXT3"}`},
		cannedResponse{status: 200, body: `{"value":[{"connectionId":"c3"}]}`},
	)
	// The second nextLink is absolute, carrying its own api-version.
	srv.responses[1].body = strings.Replace(srv.responses[1].body, "NEXT3", srv.URL+"/api/hubs/chat/groups/g/connections?continuationToken=def&api-version=2024-01-01", 1)
	got, err := newTestClient(t, srv).ListConnectionsInGroup(context.Background(), "g", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []GroupMember{{ConnectionID: "c1", UserID: "u1"}, {ConnectionID: "c2"}, {ConnectionID: "c3"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	reqs := srv.recorded()
	if len(reqs) != 3 {
		t.Fatalf("server saw %d requests, want 3", len(reqs))
	}
	path := "/api/hubs/chat/groups/g/connections"
	checkRecorded(t, recorded{Method: "GET", Path: path, Query: q()}, reqs[0])
	checkRecorded(t, recorded{Method: "GET", Path: path, Query: q("continuationToken", "abc")}, reqs[1])
	want3 := q("continuationToken", "def")
	want3.Set("api-version", "2024-01-01")
	checkRecorded(t, recorded{Method: "GET", Path: path, Query: want3}, reqs[2])
}

func TestListConnectionsInGroupStopsAtTop(t *testing.T) {
	t.Parallel()
	srv := newRESTServer(t, testKey,
		cannedResponse{status: 200, body: `{"value":[{"connectionId":"c1"},{"connectionId":"c2"}],"nextLink":"/next?p=2"}`},
		cannedResponse{status: 200, body: `{"value":[{"connectionId":"c3"},{"connectionId":"c4"}],"nextLink":"/next?p=3"}`},
	)
	got, err := newTestClient(t, srv).ListConnectionsInGroup(context.Background(), "g", &ListOptions{Top: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].ConnectionID != "c3" {
		t.Errorf("members = %+v, want c1..c3", got)
	}
	if n := len(srv.recorded()); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestListConnectionsInGroupRefusesBadNextLinks(t *testing.T) {
	t.Parallel()
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = io.WriteString(w, `{"value":[]}`)
	}))
	t.Cleanup(other.Close)
	tests := map[string]struct {
		body    string
		wantErr string
	}{
		"a link to another host is refused":  {body: `{"value":[],"nextLink":"` + other.URL + `/steal"}`, wantErr: "another host"},
		"a repeated link is refused":         {body: `{"value":[],"nextLink":"/same"}`, wantErr: "repeated a nextLink"},
		"a page that is not JSON is refused": {body: `not json`, wantErr: "decoding page 1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newRESTServer(t, testKey, cannedResponse{status: 200, body: tc.body})
			_, err := newTestClient(t, srv).ListConnectionsInGroup(context.Background(), "g", nil)
			checkErr(t, err, tc.wantErr)
		})
	}
	if otherHits.Load() != 0 {
		t.Error("the client followed a link to another host")
	}
}

func TestGenerateClientTokenRejectsAnEmptyAnswer(t *testing.T) {
	t.Parallel()
	srv := newRESTServer(t, testKey, cannedResponse{status: 200, body: `{}`})
	_, err := newTestClient(t, srv).GenerateClientToken(context.Background(), nil)
	checkErr(t, err, "no token")
	checkRecorded(t, recorded{Method: "POST", Path: "/api/hubs/chat/:generateToken", Query: q()}, srv.recorded()[0])
}
