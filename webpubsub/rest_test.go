// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorded is one request as the test server saw it.
type recorded struct {
	Method      string
	Path        string // escaped, as on the wire
	Query       url.Values
	Body        string
	ContentType string
	Audience    string
	TokenErr    string
	WantAud     string
}

// restServer is an httptest server that records requests, verifies their tokens with key,
// and answers from a queue of canned responses (the last one repeats).
type restServer struct {
	*httptest.Server
	key string

	mu        sync.Mutex
	requests  []recorded
	responses []cannedResponse
}

type cannedResponse struct {
	status int
	header map[string]string
	body   string
}

func newRESTServer(t *testing.T, key string, responses ...cannedResponse) *restServer {
	t.Helper()
	s := &restServer{key: key, responses: responses}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *restServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := recorded{
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: string(body),
		ContentType: r.Header.Get("Content-Type"),
		WantAud:     "http://" + r.Host + r.RequestURI,
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		rec.TokenErr = "no bearer token"
	} else if c, err := ParseToken(tok, []string{s.key}, time.Now(), time.Minute); err != nil {
		rec.TokenErr = err.Error()
	} else {
		rec.Audience = c.Audience
		if d := time.Until(c.ExpiresAt); d < 59*time.Minute || d > 61*time.Minute {
			rec.TokenErr = "exp is not about an hour away"
		}
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	resp := cannedResponse{status: http.StatusOK}
	if len(s.responses) > 0 {
		resp = s.responses[0]
		if len(s.responses) > 1 {
			s.responses = s.responses[1:]
		}
	}
	s.mu.Unlock()
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(resp.status)
	_, _ = io.WriteString(w, resp.body)
}

func (s *restServer) recorded() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.requests...)
}

func newTestClient(t *testing.T, srv *restServer) *Client {
	t.Helper()
	cs, err := ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=" + srv.key + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(cs, "chat", &ClientOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func q(kv ...string) url.Values {
	v := url.Values{"api-version": {DefaultAPIVersion}}
	for i := 0; i+1 < len(kv); i += 2 {
		v[kv[i]] = append(v[kv[i]], kv[i+1])
	}
	return v
}

func TestClientOperations(t *testing.T) {
	t.Parallel()
	const group = "room 1/β"
	const escGroup = "room%201%2F%CE%B2"
	tests := map[string]struct {
		call       func(ctx context.Context, c *Client) (any, error)
		respond    cannedResponse
		want       recorded
		wantResult any
	}{
		"SendToAll posts text with excluded, filter and ttl": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SendToAll(ctx, TextContent("hi"), &SendOptions{Excluded: []string{"c1", "c2"}, Filter: "userId eq 'a'", MessageTTLSeconds: 30})
			},
			respond: cannedResponse{status: 202},
			want: recorded{Method: "POST", Path: "/api/hubs/chat/:send", Query: q("excluded", "c1", "excluded", "c2", "filter", "userId eq 'a'", "messageTtlSeconds", "30"),
				Body: "hi", ContentType: "text/plain"},
		},
		"SendToUser posts JSON to the user": {
			call: func(ctx context.Context, c *Client) (any, error) {
				ct, err := JSONContent(map[string]string{"a": "b"})
				if err != nil {
					return nil, err
				}
				return nil, c.SendToUser(ctx, "user@x y", ct, nil)
			},
			respond: cannedResponse{status: 202},
			want:    recorded{Method: "POST", Path: "/api/hubs/chat/users/user@x%20y/:send", Query: q(), Body: `{"a":"b"}`, ContentType: "application/json"},
		},
		"SendToConnection posts binary with a ttl": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SendToConnection(ctx, "conn/1", BinaryContent([]byte{0, 1, 2}), &SendOptions{MessageTTLSeconds: 300})
			},
			respond: cannedResponse{status: 202},
			want: recorded{Method: "POST", Path: "/api/hubs/chat/connections/conn%2F1/:send", Query: q("messageTtlSeconds", "300"),
				Body: "\x00\x01\x02", ContentType: "application/octet-stream"},
		},
		"SendToGroup escapes the group": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.SendToGroup(ctx, group, TextContent("yo"), &SendOptions{Excluded: []string{"c9"}})
			},
			respond: cannedResponse{status: 202},
			want:    recorded{Method: "POST", Path: "/api/hubs/chat/groups/" + escGroup + "/:send", Query: q("excluded", "c9"), Body: "yo", ContentType: "text/plain"},
		},
		"AddConnectionToGroup puts": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.AddConnectionToGroup(ctx, group, "c1")
			},
			respond: cannedResponse{status: 200},
			want:    recorded{Method: "PUT", Path: "/api/hubs/chat/groups/" + escGroup + "/connections/c1", Query: q()},
		},
		"RemoveConnectionFromGroup deletes": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RemoveConnectionFromGroup(ctx, group, "c1")
			},
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "DELETE", Path: "/api/hubs/chat/groups/" + escGroup + "/connections/c1", Query: q()},
		},
		"RemoveConnectionFromAllGroups deletes": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RemoveConnectionFromAllGroups(ctx, "c1")
			},
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "DELETE", Path: "/api/hubs/chat/connections/c1/groups", Query: q()},
		},
		"AddUserToGroup puts": {
			call:    func(ctx context.Context, c *Client) (any, error) { return nil, c.AddUserToGroup(ctx, group, "alice") },
			respond: cannedResponse{status: 200},
			want:    recorded{Method: "PUT", Path: "/api/hubs/chat/users/alice/groups/" + escGroup, Query: q()},
		},
		"RemoveUserFromGroup deletes": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RemoveUserFromGroup(ctx, group, "alice")
			},
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "DELETE", Path: "/api/hubs/chat/users/alice/groups/" + escGroup, Query: q()},
		},
		"RemoveUserFromAllGroups deletes": {
			call:    func(ctx context.Context, c *Client) (any, error) { return nil, c.RemoveUserFromAllGroups(ctx, "alice") },
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "DELETE", Path: "/api/hubs/chat/users/alice/groups", Query: q()},
		},
		"AddConnectionsToGroups posts groups and filter": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.AddConnectionsToGroups(ctx, []string{"g1", "g2"}, "userId eq 'a'")
			},
			respond: cannedResponse{status: 200},
			want: recorded{Method: "POST", Path: "/api/hubs/chat/:addToGroups", Query: q(),
				Body: `{"groups":["g1","g2"],"filter":"userId eq 'a'"}`, ContentType: "application/json"},
		},
		"RemoveConnectionsFromGroups posts groups without a filter": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RemoveConnectionsFromGroups(ctx, []string{"g1"}, "")
			},
			respond: cannedResponse{status: 200},
			want:    recorded{Method: "POST", Path: "/api/hubs/chat/:removeFromGroups", Query: q(), Body: `{"groups":["g1"]}`, ContentType: "application/json"},
		},
		"CloseConnection deletes with a reason": {
			call:    func(ctx context.Context, c *Client) (any, error) { return nil, c.CloseConnection(ctx, "c1", "bye now") },
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "DELETE", Path: "/api/hubs/chat/connections/c1", Query: q("reason", "bye now")},
		},
		"CloseAllConnections posts excluded and reason": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CloseAllConnections(ctx, &CloseOptions{Excluded: []string{"a", "b"}, Reason: "maintenance"})
			},
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "POST", Path: "/api/hubs/chat/:closeConnections", Query: q("excluded", "a", "excluded", "b", "reason", "maintenance")},
		},
		"CloseGroupConnections posts to the group": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CloseGroupConnections(ctx, group, &CloseOptions{Reason: "r"})
			},
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "POST", Path: "/api/hubs/chat/groups/" + escGroup + "/:closeConnections", Query: q("reason", "r")},
		},
		"CloseUserConnections posts to the user": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.CloseUserConnections(ctx, "alice", &CloseOptions{Excluded: []string{"c3"}})
			},
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "POST", Path: "/api/hubs/chat/users/alice/:closeConnections", Query: q("excluded", "c3")},
		},
		"ConnectionExists is true on 200": {
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ConnectionExists(ctx, "c1") },
			respond:    cannedResponse{status: 200},
			want:       recorded{Method: "HEAD", Path: "/api/hubs/chat/connections/c1", Query: q()},
			wantResult: true,
		},
		"ConnectionExists is false on 404": {
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ConnectionExists(ctx, "c1") },
			respond:    cannedResponse{status: 404},
			want:       recorded{Method: "HEAD", Path: "/api/hubs/chat/connections/c1", Query: q()},
			wantResult: false,
		},
		"GroupExists heads the group": {
			call:       func(ctx context.Context, c *Client) (any, error) { return c.GroupExists(ctx, group) },
			respond:    cannedResponse{status: 200},
			want:       recorded{Method: "HEAD", Path: "/api/hubs/chat/groups/" + escGroup, Query: q()},
			wantResult: true,
		},
		"UserExists heads the user": {
			call:       func(ctx context.Context, c *Client) (any, error) { return c.UserExists(ctx, "alice") },
			respond:    cannedResponse{status: 404, header: map[string]string{HeaderErrorCode: "Warning.User.NotExisted"}},
			want:       recorded{Method: "HEAD", Path: "/api/hubs/chat/users/alice", Query: q()},
			wantResult: false,
		},
		"GrantPermission puts with targetName": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.GrantPermission(ctx, PermissionSendToGroup, "c1", group)
			},
			respond: cannedResponse{status: 200},
			want:    recorded{Method: "PUT", Path: "/api/hubs/chat/permissions/sendToGroup/connections/c1", Query: q("targetName", group)},
		},
		"RevokePermission deletes without a target": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.RevokePermission(ctx, PermissionJoinLeaveGroup, "c1", "")
			},
			respond: cannedResponse{status: 204},
			want:    recorded{Method: "DELETE", Path: "/api/hubs/chat/permissions/joinLeaveGroup/connections/c1", Query: q()},
		},
		"CheckPermission heads with targetName": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CheckPermission(ctx, PermissionJoinLeaveGroup, "c1", "g")
			},
			respond:    cannedResponse{status: 200},
			want:       recorded{Method: "HEAD", Path: "/api/hubs/chat/permissions/joinLeaveGroup/connections/c1", Query: q("targetName", "g")},
			wantResult: true,
		},
		"GenerateClientToken posts every parameter": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.GenerateClientToken(ctx, &GenerateTokenOptions{UserID: "alice", Roles: []string{"r1", "r2"}, Groups: []string{"g1", "g2"}, MinutesToExpire: 5, ClientType: "MQTT"})
			},
			respond: cannedResponse{status: 200, body: `{"token":"abc.def.ghi"}`},
			want: recorded{Method: "POST", Path: "/api/hubs/chat/:generateToken",
				Query: q("userId", "alice", "role", "r1", "role", "r2", "group", "g1", "group", "g2", "minutesToExpire", "5", "clientType", "MQTT")},
			wantResult: "abc.def.ghi",
		},
		"Health heads /api/health": {
			call:    func(ctx context.Context, c *Client) (any, error) { return nil, c.Health(ctx) },
			respond: cannedResponse{status: 200},
			want:    recorded{Method: "HEAD", Path: "/api/health", Query: q()},
		},
		"ListConnectionsInGroup gets one page": {
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListConnectionsInGroup(ctx, group, &ListOptions{MaxPageSize: 50, Top: 10})
			},
			respond:    cannedResponse{status: 200, body: `{"value":[{"connectionId":"c1","userId":"u1"},{"connectionId":"c2"}]}`},
			want:       recorded{Method: "GET", Path: "/api/hubs/chat/groups/" + escGroup + "/connections", Query: q("maxpagesize", "50", "top", "10")},
			wantResult: []GroupMember{{ConnectionID: "c1", UserID: "u1"}, {ConnectionID: "c2"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newRESTServer(t, testKey, tc.respond)
			got, err := tc.call(context.Background(), newTestClient(t, srv))
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if tc.wantResult != nil {
				if diff := cmp.Diff(tc.wantResult, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
			reqs := srv.recorded()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			checkRecorded(t, tc.want, reqs[0])
		})
	}
}

// checkRecorded compares a request with the expected one and checks its token: signed with
// the key, aud = the full request URL, exp one hour away.
func checkRecorded(t *testing.T, want, got recorded) {
	t.Helper()
	if got.TokenErr != "" {
		t.Errorf("token: %s", got.TokenErr)
	}
	if got.Audience != got.WantAud {
		t.Errorf("token aud = %q, want the request URL %q", got.Audience, got.WantAud)
	}
	got.Audience, got.WantAud, got.TokenErr = "", "", ""
	if want.Query == nil {
		want.Query = url.Values{}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}
