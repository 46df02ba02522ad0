// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests check this package against the official Node SDK @azure/web-pubsub installed
// in hack/npm/node_modules by 'make npm'.

// runNodeScript runs webpubsub/testdata/compat/<script> with input as JSON on stdin and
// returns its stdout. It fails the test when the SDK is not installed.
func runNodeScript(t *testing.T, script string, input any) []byte {
	t.Helper()
	sdk := filepath.Join("..", "hack", "npm", "node_modules", "@azure", "web-pubsub", "package.json")
	if _, err := os.Stat(sdk); err != nil {
		t.Fatalf("@azure/web-pubsub is not installed in hack/npm/node_modules: run 'make npm' first (%v)", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH: install Node.js 20 and run 'make npm' first (%v)", err)
	}
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "compat", script)) //nolint:gosec // G204: node runs one of the scripts in testdata/compat
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return stdout.Bytes()
}

func TestCompatClientAccessTokenMatchesTheNodeSDK(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		endpoint string
		hub      string
		opts     ClientTokenOptions
	}{
		"a user with roles and groups on https": {
			endpoint: "https://chathub-test.webpubsub.azure.com",
			hub:      "chat",
			opts: ClientTokenOptions{
				UserID: "alice",
				Roles:  []string{RoleJoinLeaveGroup + ".room1", RoleSendToGroup + ".room1"},
				Groups: []string{"room1", "lobby"},
			},
		},
		"an anonymous client on a local http endpoint with a port": {
			endpoint: "http://127.0.0.1:18080",
			hub:      "Chat_Hub.v2",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cs, err := ParseConnectionString("Endpoint=" + tc.endpoint + ";AccessKey=" + testKey + ";Version=1.0;")
			if err != nil {
				t.Fatal(err)
			}
			// Empty options are left out, as a JS caller would leave them undefined.
			input := map[string]any{"connectionString": cs.Format(), "hub": tc.hub}
			if tc.opts.UserID != "" {
				input["userId"] = tc.opts.UserID
			}
			if len(tc.opts.Roles) > 0 {
				input["roles"] = tc.opts.Roles
			}
			if len(tc.opts.Groups) > 0 {
				input["groups"] = tc.opts.Groups
			}
			out := runNodeScript(t, "client-token.js", input)
			var sdk struct{ Token, BaseURL, URL string }
			if err := json.Unmarshal(out, &sdk); err != nil {
				t.Fatalf("script output is not JSON: %v", err)
			}
			now := time.Now()
			ours, err := ClientAccessFor(cs.Endpoint, cs.AccessKey, tc.hub, tc.opts, now)
			if err != nil {
				t.Fatal(err)
			}

			// The SDK's token verifies with our parser and key, so the service would accept both.
			theirs, err := ParseToken(sdk.Token, []string{cs.AccessKey}, now, time.Minute)
			if err != nil {
				t.Fatalf("the SDK's token does not verify with our key: %v", err)
			}
			mine, err := ParseToken(ours.Token, []string{cs.AccessKey}, now, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if d := theirs.ExpiresAt.Sub(mine.ExpiresAt); d < -time.Minute || d > time.Minute {
				t.Errorf("exp differs by %s: SDK %v, ours %v", d, theirs.ExpiresAt, mine.ExpiresAt)
			}
			theirs.ExpiresAt, mine.ExpiresAt, theirs.IssuedAt, mine.IssuedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if diff := cmp.Diff(theirs, mine); diff != "" {
				t.Errorf("claims (-SDK +ours):\n%s", diff)
			}
			// Raw claim shapes: role and webpubsub.group are arrays in both, absent when empty.
			for _, claim := range []string{"aud", "sub", ClaimRole, ClaimGroup} {
				a, b := decodeClaims(t, sdk.Token)[claim], decodeClaims(t, ours.Token)[claim]
				if diff := cmp.Diff(a, b); diff != "" {
					t.Errorf("raw claim %q (-SDK +ours):\n%s", claim, diff)
				}
			}

			// URL shape: same base, token in access_token.
			base, tok, ok := strings.Cut(ours.URL, "?access_token=")
			if !ok || tok == "" {
				t.Fatalf("our URL %q has no access_token", ours.URL)
			}
			if base != sdk.BaseURL {
				t.Errorf("base URL: SDK %q, ours %q", sdk.BaseURL, base)
			}
			sdkBase, sdkTok, _ := strings.Cut(sdk.URL, "?access_token=")
			if sdkBase != sdk.BaseURL || sdkTok != sdk.Token {
				t.Errorf("the SDK URL %q is not baseUrl?access_token=token", sdk.URL)
			}
		})
	}
}

// compatRecorder records data-plane requests for the REST compatibility test and answers each
// with the status its operation succeeds with.
type compatRecorder struct {
	key      string
	mu       sync.Mutex
	requests []compatRequest
}

// compatRequest is a request reduced to what must match between the SDK and this package.
type compatRequest struct {
	Method      string
	Path        string // escaped
	Query       map[string][]string
	Body        string
	ContentType string
	AuthError   string // reported on its own, then cleared before comparing
}

func (c *compatRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mt := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ = mime.ParseMediaType(ct)
	}
	req := compatRequest{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: string(body), ContentType: mt}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := ParseToken(tok, []string{c.key}, time.Now(), time.Minute)
	switch {
	case err != nil:
		req.AuthError = err.Error()
	case claims.Audience != "http://"+r.Host+r.RequestURI:
		req.AuthError = "aud " + claims.Audience + " is not the request URL http://" + r.Host + r.RequestURI
	}
	c.mu.Lock()
	c.requests = append(c.requests, req)
	c.mu.Unlock()
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/:send"):
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/:closeConnections"):
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, `{"value":[{"connectionId":"c1","userId":"u1"}]}`)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (c *compatRecorder) take() []compatRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.requests
	c.requests = nil
	return r
}

// compatOperations makes the calls of testdata/compat/rest-calls.js with this package.
func compatOperations(ctx context.Context, c *Client) error {
	const group = "room 1/β"
	jsonMsg, err := JSONContent(map[string]string{"a": "b"})
	if err != nil {
		return err
	}
	members := 0
	steps := []func() error{
		func() error {
			return c.SendToAll(ctx, TextContent("hi"), &SendOptions{Excluded: []string{"c1", "c2"}, Filter: "userId eq 'a'", MessageTTLSeconds: 30})
		},
		func() error { return c.SendToUser(ctx, "user 1", jsonMsg, nil) },
		func() error {
			return c.SendToConnection(ctx, "conn/1", BinaryContent([]byte{0, 1, 2}), &SendOptions{MessageTTLSeconds: 300})
		},
		func() error {
			return c.SendToGroup(ctx, group, TextContent("yo"), &SendOptions{Excluded: []string{"c9"}})
		},
		func() error { return c.AddConnectionToGroup(ctx, group, "c1") },
		func() error { return c.RemoveConnectionFromGroup(ctx, group, "c1") },
		func() error { return c.RemoveConnectionFromAllGroups(ctx, "c1") },
		func() error { return c.AddUserToGroup(ctx, group, "alice") },
		func() error { return c.RemoveUserFromGroup(ctx, group, "alice") },
		func() error { return c.RemoveUserFromAllGroups(ctx, "alice") },
		func() error { return c.AddConnectionsToGroups(ctx, []string{"g1", "g2"}, "userId eq 'a'") },
		func() error { return c.RemoveConnectionsFromGroups(ctx, []string{"g1"}, "userId eq 'a'") },
		func() error { return c.CloseConnection(ctx, "c1", "bye") },
		func() error { return c.CloseAllConnections(ctx, &CloseOptions{Reason: "maintenance"}) },
		func() error { return c.CloseGroupConnections(ctx, group, &CloseOptions{Reason: "r"}) },
		func() error { return c.CloseUserConnections(ctx, "alice", &CloseOptions{Reason: "r"}) },
		func() error { _, err := c.ConnectionExists(ctx, "c1"); return err },
		func() error { _, err := c.GroupExists(ctx, group); return err },
		func() error { _, err := c.UserExists(ctx, "alice"); return err },
		func() error { return c.GrantPermission(ctx, PermissionSendToGroup, "c1", "g") },
		func() error { return c.RevokePermission(ctx, PermissionJoinLeaveGroup, "c1", "g") },
		func() error { _, err := c.CheckPermission(ctx, PermissionJoinLeaveGroup, "c1", "g"); return err },
		func() error {
			m, err := c.ListConnectionsInGroup(ctx, group, &ListOptions{MaxPageSize: 50})
			members = len(m)
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return errors.Join(errors.New("step "+string(rune('A'+i))), err)
		}
	}
	if members != 1 {
		return errors.New("ListConnectionsInGroup did not return the one member")
	}
	return nil
}

func TestCompatRESTRequestsMatchTheNodeSDK(t *testing.T) {
	t.Parallel()
	rec := &compatRecorder{key: testKey}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	cs, err := ParseConnectionString("Endpoint=" + srv.URL + ";AccessKey=" + testKey + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}

	out := runNodeScript(t, "rest-calls.js", map[string]any{"connectionString": cs.Format(), "hub": "chat"})
	if got := strings.TrimSpace(string(out)); got != "done 1" {
		t.Fatalf("script printed %q, want %q", got, "done 1")
	}
	sdk := rec.take()
	if len(sdk) != 23 {
		t.Fatalf("the SDK made %d requests, want the 23 of rest-calls.js", len(sdk))
	}

	c, err := NewClient(cs, "chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := compatOperations(context.Background(), c); err != nil {
		t.Fatalf("our calls: %v", err)
	}
	ours := rec.take()

	for who, reqs := range map[string][]compatRequest{"SDK": sdk, "ours": ours} {
		for i := range reqs {
			if reqs[i].AuthError != "" {
				t.Errorf("%s %s %s: token: %s", who, reqs[i].Method, reqs[i].Path, reqs[i].AuthError)
			}
			reqs[i].AuthError = ""
		}
	}
	if diff := cmp.Diff(sdk, ours); diff != "" {
		t.Errorf("requests (-SDK +ours):\n%s", diff)
	}
}
