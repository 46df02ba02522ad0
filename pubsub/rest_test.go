// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/version"
	"github.com/chathub/chathub/webpubsub"
)

// member is a connected JSON client and its connection id.
type member struct {
	c  *wsClient
	id string
}

func (e *testEnv) member(t *testing.T, user string) member {
	t.Helper()
	c, m := e.connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: user})
	return member{c: c, id: m["connectionId"].(string)}
}

// nextData reads the next data message and returns its text data.
func (m member) nextData() string {
	m.c.t.Helper()
	msg := m.c.readUntil("message")
	s, _ := msg["data"].(string)
	return s
}

func TestRESTSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice, bob, carol := e.member(t, "alice"), e.member(t, "bob"), e.member(t, "carol")
	for _, m := range []member{alice, bob} {
		if err := e.rest.AddConnectionToGroup(ctx(t), "room", m.id); err != nil {
			t.Fatal(err)
		}
	}
	text := webpubsub.TextContent
	steps := []struct {
		name string
		send func(msg string) error
		want map[string]bool // which members receive it
	}{
		{"SendToAll reaches everyone", func(s string) error { return e.rest.SendToAll(ctx(t), text(s), nil) },
			map[string]bool{"alice": true, "bob": true, "carol": true}},
		{"SendToAll honours excluded", func(s string) error {
			return e.rest.SendToAll(ctx(t), text(s), &webpubsub.SendOptions{Excluded: []string{alice.id, carol.id}})
		}, map[string]bool{"bob": true}},
		{"SendToAll honours a filter", func(s string) error {
			return e.rest.SendToAll(ctx(t), text(s), &webpubsub.SendOptions{Filter: "userId in ('alice','carol')"})
		}, map[string]bool{"alice": true, "carol": true}},
		{"SendToAll filters on groups", func(s string) error {
			return e.rest.SendToAll(ctx(t), text(s), &webpubsub.SendOptions{Filter: "not ('room' in groups)"})
		}, map[string]bool{"carol": true}},
		{"SendToUser reaches one user", func(s string) error { return e.rest.SendToUser(ctx(t), "bob", text(s), nil) },
			map[string]bool{"bob": true}},
		{"SendToConnection reaches one connection", func(s string) error { return e.rest.SendToConnection(ctx(t), carol.id, text(s), nil) },
			map[string]bool{"carol": true}},
		{"SendToGroup reaches the group", func(s string) error { return e.rest.SendToGroup(ctx(t), "room", text(s), nil) },
			map[string]bool{"alice": true, "bob": true}},
		{"SendToGroup honours excluded and filter", func(s string) error {
			return e.rest.SendToGroup(ctx(t), "room", text(s), &webpubsub.SendOptions{Excluded: []string{alice.id}, Filter: "userId ne 'nobody'", MessageTTLSeconds: 10})
		}, map[string]bool{"bob": true}},
	}
	all := map[string]member{"alice": alice, "bob": bob, "carol": carol}
	for i, st := range steps {
		msg := st.name
		if err := st.send(msg); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		// A marker to everyone after each step shows who got the step's message.
		marker := "marker" + string(rune('A'+i))
		if err := e.rest.SendToAll(ctx(t), text(marker), nil); err != nil {
			t.Fatal(err)
		}
		for name, m := range all {
			got := m.nextData()
			if st.want[name] {
				if got != msg {
					t.Fatalf("%s: %s got %q, want the message", st.name, name, got)
				}
				got = m.nextData()
			}
			if got != marker {
				t.Fatalf("%s: %s got %q, want only the marker", st.name, name, got)
			}
		}
	}
	if err := e.rest.SendToUser(ctx(t), "nobody", text("x"), nil); err != nil {
		t.Fatalf("a send to a user without connections must be accepted: %v", err)
	}
}

func TestRESTGroupMembership(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a1, a2, b := e.member(t, "ann"), e.member(t, "ann"), e.member(t, "ben")
	c := ctx(t)
	exists := func(group string) bool {
		t.Helper()
		ok, err := e.rest.GroupExists(c, group)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	list := func(group string, opts *webpubsub.ListOptions) []string {
		t.Helper()
		ms, err := e.rest.ListConnectionsInGroup(c, group, opts)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.ConnectionID+"/"+m.UserID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }

	if exists("g") {
		t.Fatal("GroupExists before anyone joined")
	}
	if err := e.rest.AddConnectionToGroup(c, "g", b.id); err != nil {
		t.Fatal(err)
	}
	if err := e.rest.AddUserToGroup(c, "g", "ann"); err != nil {
		t.Fatal(err)
	}
	if got, want := list("g", nil), sorted(a1.id+"/ann", a2.id+"/ann", b.id+"/ben"); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
	if got := list("g", &webpubsub.ListOptions{MaxPageSize: 1}); len(got) != 3 {
		t.Fatalf("paging by 1 returned %v, want all 3 through nextLink", got)
	}
	if got := list("g", &webpubsub.ListOptions{MaxPageSize: 1, Top: 2}); len(got) != 2 {
		t.Fatalf("top 2 returned %v", got)
	}
	if err := e.rest.RemoveUserFromGroup(c, "g", "ann"); err != nil {
		t.Fatal(err)
	}
	if got := list("g", nil); !slices.Equal(got, []string{b.id + "/ben"}) {
		t.Fatalf("after RemoveUserFromGroup: %v", got)
	}
	if err := e.rest.RemoveConnectionFromGroup(c, "g", b.id); err != nil {
		t.Fatal(err)
	}
	if exists("g") {
		t.Fatal("GroupExists after everyone left")
	}
	for _, g := range []string{"x", "y"} {
		if err := e.rest.AddConnectionToGroup(c, g, b.id); err != nil {
			t.Fatal(err)
		}
		if err := e.rest.AddUserToGroup(c, g, "ann"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.rest.RemoveConnectionFromAllGroups(c, b.id); err != nil {
		t.Fatal(err)
	}
	if err := e.rest.RemoveUserFromAllGroups(c, "ann"); err != nil {
		t.Fatal(err)
	}
	if exists("x") || exists("y") {
		t.Fatal("groups still exist after removing from all groups")
	}
	if err := e.rest.AddConnectionsToGroups(c, []string{"p", "q"}, "userId eq 'ann'"); err != nil {
		t.Fatal(err)
	}
	if got := list("q", nil); len(got) != 2 || !strings.HasSuffix(got[0], "/ann") {
		t.Fatalf("AddConnectionsToGroups by filter: %v", got)
	}
	if err := e.rest.RemoveConnectionsFromGroups(c, []string{"p"}, "connectionId eq '"+a1.id+"'"); err != nil {
		t.Fatal(err)
	}
	if got := list("p", nil); !slices.Equal(got, []string{a2.id + "/ann"}) {
		t.Fatalf("RemoveConnectionsFromGroups by filter: %v", got)
	}
	err := e.rest.AddConnectionToGroup(c, "g", "missing")
	var re *webpubsub.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "Error.Connection.NotExisted" {
		t.Fatalf("AddConnectionToGroup of a missing connection: %v", err)
	}
}

func TestRESTCloseAndExists(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := ctx(t)
	u1, u2, v, w := e.member(t, "u"), e.member(t, "u"), e.member(t, "v"), e.member(t, "w")
	if err := e.rest.AddConnectionToGroup(c, "g", v.id); err != nil {
		t.Fatal(err)
	}
	checks := func(what string, ok bool, err error, want bool) {
		t.Helper()
		if err != nil || ok != want {
			t.Fatalf("%s = %v, %v; want %v", what, ok, err, want)
		}
	}
	ok, err := e.rest.ConnectionExists(c, u1.id)
	checks("ConnectionExists", ok, err, true)
	ok, err = e.rest.UserExists(c, "u")
	checks("UserExists", ok, err, true)
	ok, err = e.rest.UserExists(c, "nobody")
	checks("UserExists(nobody)", ok, err, false)
	ok, err = e.rest.ConnectionExists(c, "missing")
	checks("ConnectionExists(missing)", ok, err, false)

	if err := e.rest.CloseUserConnections(c, "u", &webpubsub.CloseOptions{Excluded: []string{u2.id}, Reason: "bye"}); err != nil {
		t.Fatal(err)
	}
	if m := u1.c.readJSON(); m["message"] != "bye" {
		t.Fatalf("closed client got %v", m)
	}
	eventually(t, "u1 to close", func() bool { ok, _ := e.rest.ConnectionExists(c, u1.id); return !ok })
	ok, err = e.rest.ConnectionExists(c, u2.id)
	checks("excluded connection exists", ok, err, true)

	if err := e.rest.CloseGroupConnections(c, "g", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "v to close", func() bool { ok, _ := e.rest.UserExists(c, "v"); return !ok })
	if err := e.rest.CloseAllConnections(c, &webpubsub.CloseOptions{Excluded: []string{w.id}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "u2 to close", func() bool { ok, _ := e.rest.ConnectionExists(c, u2.id); return !ok })
	if err := e.rest.CloseConnection(c, w.id, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "w to close", func() bool { ok, _ := e.rest.ConnectionExists(c, w.id); return !ok })
	if m := w.c.readJSON(); m["message"] != "ClosedByAppServer" {
		t.Fatalf("default close reason %v", m)
	}
}

func TestRESTPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := ctx(t)
	m := e.member(t, "p")
	check := func(p webpubsub.Permission, group string, want bool) {
		t.Helper()
		ok, err := e.rest.CheckPermission(c, p, m.id, group)
		if err != nil || ok != want {
			t.Fatalf("CheckPermission(%s, %q) = %v, %v; want %v", p, group, ok, err, want)
		}
	}
	check(webpubsub.PermissionJoinLeaveGroup, "g", false)
	if err := e.rest.GrantPermission(c, webpubsub.PermissionJoinLeaveGroup, m.id, "g"); err != nil {
		t.Fatal(err)
	}
	check(webpubsub.PermissionJoinLeaveGroup, "g", true)
	check(webpubsub.PermissionJoinLeaveGroup, "h", false)
	m.c.send(map[string]any{"type": "joinGroup", "group": "g", "ackId": 1})
	if ack := m.c.readUntil("ack"); ack["success"] != true {
		t.Fatalf("join after grant: %v", ack)
	}
	if err := e.rest.GrantPermission(c, webpubsub.PermissionSendToGroup, m.id, ""); err != nil {
		t.Fatal(err)
	}
	check(webpubsub.PermissionSendToGroup, "any", true)
	if err := e.rest.RevokePermission(c, webpubsub.PermissionSendToGroup, m.id, ""); err != nil {
		t.Fatal(err)
	}
	check(webpubsub.PermissionSendToGroup, "any", false)
	if err := e.rest.RevokePermission(c, webpubsub.PermissionJoinLeaveGroup, m.id, "g"); err != nil {
		t.Fatal(err)
	}
	check(webpubsub.PermissionJoinLeaveGroup, "g", false)
	if err := e.rest.GrantPermission(c, webpubsub.PermissionSendToGroup, "missing", "g"); !webpubsub.IsNotFound(err) {
		t.Fatalf("grant on a missing connection: %v, want 404", err)
	}
}

func TestRESTGenerateTokenAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	c := ctx(t)
	if err := e.rest.Health(c); err != nil {
		t.Fatalf("Health: %v", err)
	}
	token, err := e.rest.GenerateClientToken(c, &webpubsub.GenerateTokenOptions{UserID: "tok", Roles: []string{webpubsub.RoleJoinLeaveGroup}, Groups: []string{"auto"}, MinutesToExpire: 5})
	if err != nil {
		t.Fatal(err)
	}
	ws := dial(t, "ws://"+e.endpoint.Host+"/client/hubs/"+testHub+"?access_token="+token, webpubsub.SubprotocolJSON)
	if m := ws.readJSON(); m["userId"] != "tok" {
		t.Fatalf("connected with the generated token: %v", m)
	}
	if ok, err := e.rest.GroupExists(c, "auto"); err != nil || !ok {
		t.Fatalf("the token's group was not joined: %v %v", ok, err)
	}
}

// rawREST sends a request signed like the SDKs and returns the response.
func (e *testEnv) rawREST(t *testing.T, method, path, contentType, body string) *http.Response {
	t.Helper()
	u := "http://" + e.endpoint.Host + path
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := webpubsub.ServiceToken(testKey, u, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRESTErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const p = "/api/hubs/chat"
	tests := map[string]struct {
		method, path, contentType, body string
		status                          int
		code, message                   string
	}{
		"an unsupported filter": {"POST", p + "/:send?api-version=2024-12-01&filter=startswith(userId,'a')", "text/plain", "x",
			400, "Error.BadRequest", "unsupported function"},
		"an unsupported content type": {"POST", p + "/:send?api-version=2024-12-01", "text/html", "x",
			415, "Error.UnsupportedMediaType", "not supported"},
		"invalid JSON": {"POST", p + "/:send?api-version=2024-12-01", "application/json", "{",
			400, "Error.BadRequest", "not valid JSON"},
		"a message over 1 MiB": {"POST", p + "/:send?api-version=2024-12-01", "text/plain", strings.Repeat("x", 1<<20+1),
			413, "Error.PayloadTooLarge", "1 MiB"},
		"a TTL over 300": {"POST", p + "/:send?api-version=2024-12-01&messageTtlSeconds=301", "text/plain", "x",
			400, "Error.BadRequest", "messageTtlSeconds"},
		"an unknown api-version": {"POST", p + "/:send?api-version=1999-01-01", "text/plain", "x",
			400, "Error.BadRequest", "api-version"},
		"an invalid hub": {"POST", "/api/hubs/1x/:send", "text/plain", "x",
			400, "Error.BadRequest", "hub name"},
		"an unknown permission": {"PUT", p + "/permissions/admin/connections/c", "", "",
			400, "Error.BadRequest", "not supported"},
		"an addToGroups body without groups": {"POST", p + "/:addToGroups", "application/json", `{"filter":""}`,
			400, "Error.BadRequest", "at least one group"},
		"a page size over 200": {"GET", p + "/groups/g/connections?maxpagesize=201", "", "",
			400, "Error.BadRequest", "maxpagesize"},
		"an MQTT token": {"POST", p + "/:generateToken?clientType=MQTT", "", "",
			400, "Error.BadRequest", "MQTT"},
		"an unknown operation": {"GET", "/api/hubs/chat/nothing", "", "",
			404, "Error.NotFound", "no such operation"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp := e.rawREST(t, tc.method, tc.path, tc.contentType, tc.body)
			if resp.StatusCode != tc.status || resp.Header.Get("x-ms-error-code") != tc.code {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("x-ms-error-code"), tc.status, tc.code)
			}
			var body struct{ Code, Message string }
			b, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(b, &body); err != nil || body.Code != tc.code || !strings.Contains(body.Message, tc.message) {
				t.Fatalf("body %s, want code %s and a message containing %q", b, tc.code, tc.message)
			}
		})
	}
}

func TestRESTAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	u := "http://" + e.endpoint.Host + "/api/hubs/chat/:send?api-version=2024-12-01"
	sign := func(key, aud string) string {
		tok, err := webpubsub.ServiceToken(key, aud, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := map[string]struct {
		token  string
		status int
	}{
		"an audience with the query is accepted":    {sign(testKey, u), 202},
		"an audience without the query is accepted": {sign(testKey, strings.Split(u, "?")[0]), 202},
		"an https audience is accepted":             {sign(testKey, "https"+strings.TrimPrefix(u, "http")), 202},
		"the secondary key is accepted":             {sign(testKey2, u), 202},
		"another key is refused":                    {sign("some-other-key-that-is-long-enough-0000", u), 401},
		"another path is refused":                   {sign(testKey, "http://"+e.endpoint.Host+"/api/hubs/chat/connections"), 401},
		"no token is refused":                       {"", 401},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest("POST", u, strings.NewReader("x"))
			req.Header.Set("Content-Type", "text/plain")
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 401 && resp.Header.Get("x-ms-error-code") != "Error.Unauthorized" {
				t.Fatalf("x-ms-error-code %q", resp.Header.Get("x-ms-error-code"))
			}
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	gone := e.member(t, "gone")
	e.member(t, "m")
	if err := e.rest.CloseConnection(ctx(t), gone.id, "kicked"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the close", func() bool { ok, _ := e.rest.ConnectionExists(ctx(t), gone.id); return !ok })
	if err := e.rest.SendToAll(ctx(t), webpubsub.TextContent("x"), nil); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + e.endpoint.Host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"chathub_pubsub_connections 1", `chathub_pubsub_rest_requests_total{code="202",operation="SendToAll"} 1`,
		"chathub_pubsub_messages_sent_total", `chathub_pubsub_connections_opened_total{protocol="json.webpubsub.azure.v1"} 2`,
		`chathub_pubsub_connections_closed_total{reason="ClosedByAppServer"} 1`,
		version.BuildInfoSample(),
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(b), testKey) || strings.Contains(string(b), "kicked") {
		t.Fatal("metrics contain the access key")
	}
}
