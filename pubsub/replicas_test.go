// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/chathub/chathub/internal/testnats"
	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// startNATS runs a nats-server in the test process on port (-1: a free one).
func startNATS(t testing.TB, port int, mutate func(*natsserver.Options)) *natsserver.Server {
	t.Helper()
	opts := &natsserver.Options{Host: "127.0.0.1", Port: port}
	if mutate != nil {
		mutate(opts)
	}
	return testnats.Start(t, opts)
}

// newReplicas starts n services sharing their hubs through the NATS server at url and waits
// until each one knows the others.
func newReplicas(t testing.TB, n int, url string) []*testEnv {
	t.Helper()
	envs := make([]*testEnv, n)
	for i := range envs {
		envs[i] = newEnv(t, func(c *Config) {
			c.Cluster = &cluster.Config{URL: url, Heartbeat: 100 * time.Millisecond, RequestTimeout: time.Second}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, e := range envs {
		for e.srv.cluster.Peers() != n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s knows %d other replicas, want %d", e.srv.cluster.ID(), e.srv.cluster.Peers(), n-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return envs
}

// chatRoles lets a client join, leave and send to every group.
var chatRoles = []string{"webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"}

// expectMessage reads until a data message arrives and checks its data (and group, if any).
func expectMessage(t *testing.T, c *wsClient, group, data string) {
	t.Helper()
	m := c.readUntil("message")
	if m["data"] != data || (group != "" && m["group"] != group) {
		t.Fatalf("got %v, want data %q (group %q)", m, data, group)
	}
}

// TestReplicasShareTheHub has a client on each of three replicas and checks that every REST
// operation, taken by any replica, acts on the connections of every replica.
func TestReplicasShareTheHub(t *testing.T) {
	ns := startNATS(t, -1, nil)
	r := newReplicas(t, 3, ns.ClientURL())
	opts := webpubsub.ClientTokenOptions{Roles: chatRoles}
	ann, annHello := r[0].connectJSON(t, webpubsub.SubprotocolJSON, withUser(opts, "ann"))
	bob, bobHello := r[1].connectJSON(t, webpubsub.SubprotocolJSON, withUser(opts, "bob"))
	// cat may join groups, but send to none unless granted.
	cat, catHello := r[2].connectJSON(t, webpubsub.SubprotocolJSON, webpubsub.ClientTokenOptions{UserID: "cat", Roles: chatRoles[:1]})
	annID, bobID, catID := annHello["connectionId"].(string), bobHello["connectionId"].(string), catHello["connectionId"].(string)
	for i, id := range []string{annID, bobID, catID} {
		if !strings.HasPrefix(id, r[i].srv.cluster.ID()) {
			t.Fatalf("connection id %q does not start with its replica's id %q", id, r[i].srv.cluster.ID())
		}
	}
	text := webpubsub.TextContent

	if err := r[0].rest.SendToAll(ctx(t), text("to all"), &webpubsub.SendOptions{Excluded: []string{annID}}); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, bob, "", "to all")
	expectMessage(t, cat, "", "to all")
	if err := r[1].rest.SendToAll(ctx(t), text("filtered"), &webpubsub.SendOptions{Filter: "userId eq 'ann'"}); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, ann, "", "filtered")
	if err := r[1].rest.SendToUser(ctx(t), "cat", text("to cat"), nil); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, cat, "", "to cat")
	if err := r[2].rest.SendToConnection(ctx(t), annID, text("to ann's connection"), nil); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, ann, "", "to ann's connection")

	// Per-connection order holds: sends taken in turn by each replica, one after the other,
	// reach ann (on replica 0, which delivers its own at once) and bob in the order made.
	for i := range 30 {
		if err := r[i%3].rest.SendToConnection(ctx(t), annID, text(fmt.Sprintf("a%d", i)), nil); err != nil {
			t.Fatal(err)
		}
		if err := r[(i+1)%3].rest.SendToUser(ctx(t), "bob", text(fmt.Sprintf("b%d", i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		expectMessage(t, ann, "", fmt.Sprintf("a%d", i))
		expectMessage(t, bob, "", fmt.Sprintf("b%d", i))
	}

	// Group membership changed from replicas that do not hold the connections.
	if err := r[2].rest.AddUserToGroup(ctx(t), "g", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := r[0].rest.AddConnectionToGroup(ctx(t), "g", catID); err != nil {
		t.Fatal(err)
	}
	if err := r[0].rest.AddConnectionToGroup(ctx(t), "g", "no-such-connection"); err == nil {
		t.Fatal("adding a connection no replica holds to a group succeeded")
	}
	if err := r[0].rest.SendToGroup(ctx(t), "g", text("to g"), nil); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, bob, "g", "to g")
	expectMessage(t, cat, "g", "to g")
	members, err := r[0].rest.ListConnectionsInGroup(ctx(t), "g", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range members {
		ids = append(ids, m.ConnectionID)
	}
	slices.Sort(ids)
	want := []string{bobID, catID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("members of g: %v, want %v", ids, want)
	}

	// Exists checks see every replica.
	checks := []struct {
		what string
		fn   func() (bool, error)
		want bool
	}{
		{"user cat from replica 0", func() (bool, error) { return r[0].rest.UserExists(ctx(t), "cat") }, true},
		{"connection of bob from replica 2", func() (bool, error) { return r[2].rest.ConnectionExists(ctx(t), bobID) }, true},
		{"group g from replica 0", func() (bool, error) { return r[0].rest.GroupExists(ctx(t), "g") }, true},
		{"user nobody", func() (bool, error) { return r[1].rest.UserExists(ctx(t), "nobody") }, false},
		{"group empty", func() (bool, error) { return r[1].rest.GroupExists(ctx(t), "empty") }, false},
		{"connection nope", func() (bool, error) { return r[1].rest.ConnectionExists(ctx(t), "nope") }, false},
	}
	for _, c := range checks {
		got, err := c.fn()
		if err != nil || got != c.want {
			t.Fatalf("%s exists: %v, %v; want %v", c.what, got, err, c.want)
		}
	}

	// Permissions of a connection on another replica.
	if err := r[0].rest.GrantPermission(ctx(t), webpubsub.PermissionSendToGroup, catID, "vip"); err != nil {
		t.Fatal(err)
	}
	if ok, err := r[1].rest.CheckPermission(ctx(t), webpubsub.PermissionSendToGroup, catID, "vip"); err != nil || !ok {
		t.Fatalf("cat's granted permission checked from replica 1: %v, %v", ok, err)
	}
	if ok, err := r[1].rest.CheckPermission(ctx(t), webpubsub.PermissionSendToGroup, catID, "other"); err != nil || ok {
		t.Fatalf("cat's permission on a group it was not granted: %v, %v", ok, err)
	}

	// A client's group message reaches the members on the other replicas.
	ann.send(map[string]any{"type": "joinGroup", "group": "room", "ackId": 1})
	ann.readUntil("ack")
	cat.send(map[string]any{"type": "joinGroup", "group": "room", "ackId": 1})
	cat.readUntil("ack")
	bob.send(map[string]any{"type": "sendToGroup", "group": "room", "dataType": "text", "data": "hello room", "ackId": 2})
	expectMessage(t, ann, "room", "hello room")
	expectMessage(t, cat, "room", "hello room")

	// Removal and close from other replicas.
	if err := r[0].rest.RemoveUserFromGroup(ctx(t), "g", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := r[1].rest.RemoveConnectionFromGroup(ctx(t), "g", catID); err != nil {
		t.Fatal(err)
	}
	if ok, err := r[0].rest.GroupExists(ctx(t), "g"); err != nil || ok {
		t.Fatalf("group g exists after every member left: %v, %v", ok, err)
	}
	if err := r[0].rest.CloseUserConnections(ctx(t), "bob", &webpubsub.CloseOptions{Reason: "bye bob"}); err != nil {
		t.Fatal(err)
	}
	if code, reason := bob.expectClose(); code != protocol.CloseNormal || reason != "bye bob" {
		t.Fatalf("bob closed with %d %q", code, reason)
	}
	if err := r[1].rest.CloseConnection(ctx(t), catID, "bye cat"); err != nil {
		t.Fatal(err)
	}
	if code, reason := cat.expectClose(); code != protocol.CloseNormal || reason != "bye cat" {
		t.Fatalf("cat closed with %d %q", code, reason)
	}
	eventually(t, "bob and cat to be gone", func() bool {
		b, _ := r[0].rest.UserExists(ctx(t), "bob")
		c, _ := r[0].rest.UserExists(ctx(t), "cat")
		return !b && !c
	})

	// The NATS hop's metrics: replica 2 received the sends replica 0 published.
	metrics := scrape(t, r[2])
	for _, want := range []string{`chathub_pubsub_nats_received_total{kind="send"}`, `chathub_pubsub_nats_lag_seconds_count`,
		"chathub_pubsub_nats_connected 1", "chathub_pubsub_replicas 3"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("the metrics of replica 2 have no %s", want)
		}
	}
	if !strings.Contains(scrape(t, r[0]), `chathub_pubsub_nats_published_total{kind="send"}`) {
		t.Error("the metrics of replica 0 do not count its published sends")
	}
}

func scrape(t *testing.T, e *testEnv) string {
	t.Helper()
	res, err := http.Get("http://" + e.endpoint.Host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func withUser(o webpubsub.ClientTokenOptions, user string) webpubsub.ClientTokenOptions {
	o.UserID = user
	return o
}

// TestReplicaKilledOthersChatOn stops one of three replicas in the middle of a chat: the
// clients of the other two keep chatting and lose no message.
func TestReplicaKilledOthersChatOn(t *testing.T) {
	ns := startNATS(t, -1, nil)
	r := newReplicas(t, 3, ns.ClientURL())
	opts := webpubsub.ClientTokenOptions{Roles: chatRoles, Groups: []string{"room"}}
	ann, _ := r[0].connectJSON(t, webpubsub.SubprotocolJSON, withUser(opts, "ann"))
	bob, _ := r[1].connectJSON(t, webpubsub.SubprotocolJSON, withUser(opts, "bob"))
	cat, _ := r[2].connectJSON(t, webpubsub.SubprotocolJSON, withUser(opts, "cat"))

	const total = 200
	killAt := total / 2
	for i := range total {
		if i == killAt {
			r[1].hs.CloseClientConnections()
			r[1].srv.cluster.Close()
		}
		from, to := ann, cat
		if i%2 == 1 {
			from, to = cat, ann
		}
		data := fmt.Sprintf("m%d", i)
		from.send(map[string]any{"type": "sendToGroup", "group": "room", "dataType": "text", "data": data, "noEcho": true})
		expectMessage(t, to, "room", data)
		if i < killAt {
			expectMessage(t, bob, "room", data)
		}
	}
	// REST still reaches both remaining replicas, and bob is gone.
	if err := r[2].rest.SendToAll(ctx(t), webpubsub.TextContent("still here"), nil); err != nil {
		t.Fatal(err)
	}
	expectMessage(t, ann, "", "still here")
	expectMessage(t, cat, "", "still here")
	if ok, err := r[0].rest.UserExists(ctx(t), "cat"); err != nil || !ok {
		t.Fatalf("cat exists, asked replica 0 after replica 1 stopped: %v, %v", ok, err)
	}
}

// TestReplicaWithoutNATSIsNotReady stops the NATS server: the replicas stop being ready, REST
// operations and new clients are refused, and all is well again once NATS is back.
func TestReplicaWithoutNATSIsNotReady(t *testing.T) {
	ns := startNATS(t, -1, nil)
	port := ns.Addr().(*net.TCPAddr).Port
	addr := ns.ClientURL()
	r := newReplicas(t, 2, addr)
	eventually(t, "replicas to be ready", func() bool {
		return readyz(t, r[0]) == http.StatusOK && readyz(t, r[1]) == http.StatusOK
	})
	ns.Shutdown()
	eventually(t, "replicas to be not ready", func() bool {
		return readyz(t, r[0]) == http.StatusServiceUnavailable && readyz(t, r[1]) == http.StatusServiceUnavailable
	})
	if err := r[0].rest.SendToAll(ctx(t), webpubsub.TextContent("lost"), nil); err == nil {
		t.Fatal("a send to all succeeded on a replica without NATS")
	}
	if _, resp, err := tryDial(r[0].clientURL(t, testHub, webpubsub.ClientTokenOptions{UserID: "ann"}), nil, webpubsub.SubprotocolJSON); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a client connected to a replica without NATS (err %v)", err)
	}

	startNATS(t, port, nil)
	eventually(t, "replicas to be ready again", func() bool {
		return readyz(t, r[0]) == http.StatusOK && readyz(t, r[1]) == http.StatusOK
	})
}

func readyz(t *testing.T, e *testEnv) int {
	t.Helper()
	res, err := http.Get("http://" + e.endpoint.Host + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// TestReplicaRecovery recovers a reliable connection on the replica that holds it; on
// another replica the attempt fails cleanly (1008) and the client can connect afresh.
func TestReplicaRecovery(t *testing.T) {
	ns := startNATS(t, -1, nil)
	r := newReplicas(t, 2, ns.ClientURL())
	c, hello := r[0].connectJSON(t, webpubsub.SubprotocolJSONReliable, webpubsub.ClientTokenOptions{UserID: "ann"})
	id, token := hello["connectionId"].(string), hello["reconnectionToken"].(string)
	_ = c.ws.Close()
	eventually(t, "the connection to wait for recovery", func() bool {
		return r[0].srv.reg.Lookup(testHub).Conn(id) != nil
	})
	if err := r[1].rest.SendToUser(ctx(t), "ann", webpubsub.TextContent("while away"), nil); err != nil {
		t.Fatal(err)
	}

	recoverURL := func(e *testEnv) string {
		return fmt.Sprintf("ws://%s/client/hubs/%s?awps_connection_id=%s&awps_reconnection_token=%s", e.endpoint.Host, testHub, id, token)
	}
	other := dial(t, recoverURL(r[1]), webpubsub.SubprotocolJSONReliable)
	if code, _ := other.expectClose(); code != protocol.ClosePolicy {
		t.Fatalf("recovery on another replica closed with %d, want %d", code, protocol.ClosePolicy)
	}
	same := dial(t, recoverURL(r[0]), webpubsub.SubprotocolJSONReliable)
	if m := same.readJSON(); m["event"] != "connected" || m["connectionId"] != id {
		t.Fatalf("recovery on the same replica began with %v", m)
	}
	expectMessage(t, same, "", "while away")
}

// TestReplicasShareARMSettings sets a hub's event handler through the ARM-shaped API of one
// replica: the others use it too, and so does a replica started afterwards, which is ready
// only once it has them.
func TestReplicasShareARMSettings(t *testing.T) {
	ns := startNATS(t, -1, nil)
	r := newReplicas(t, 2, ns.ClientURL())
	hc, err := webpubsub.NewHubsClient(r[0].endpoint.String(), webpubsub.ResourceID{SubscriptionID: "s", ResourceGroup: "g", Name: "n"},
		webpubsub.AccessKeyTokenSource(testKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{{
		URLTemplate: "http://127.0.0.1:1/events/{event}", UserEventPattern: "*",
	}}}}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := hc.CreateOrUpdate(c, "armhub", hs); err != nil {
		t.Fatal(err)
	}
	has := func(e *testEnv) bool {
		got, ok := e.srv.cfg.Settings.Get("armhub")
		return ok && len(got.Properties.EventHandlers) == 1 && got.Properties.EventHandlers[0].URLTemplate == hs.Properties.EventHandlers[0].URLTemplate
	}
	// CreateOrUpdate returns once every replica has applied the settings.
	if !has(r[1]) {
		t.Fatal("replica 1 does not have the settings set through replica 0")
	}
	late := newEnv(t, func(c *Config) {
		c.Cluster = &cluster.Config{URL: ns.ClientURL(), Heartbeat: time.Hour, RequestTimeout: time.Second}
	})
	// With an hour between heartbeats, only the settings of the other replicas make it ready.
	eventually(t, "the late replica to be ready", func() bool { return readyz(t, late) == http.StatusOK })
	if !has(late) {
		t.Fatal("the replica started after the settings were set is ready without them")
	}
	if err := hc.Delete(c, "armhub"); err != nil {
		t.Fatal(err)
	}
	for i, e := range []*testEnv{r[1], late} {
		if _, ok := e.srv.cfg.Settings.Get("armhub"); ok {
			t.Fatalf("replica %d still has the settings deleted through replica 0", i+1)
		}
	}
}

// TestReplicaNATSCredentials connects with a user and password, and reports a refused
// password without showing it.
func TestReplicaNATSCredentials(t *testing.T) {
	const password = "s3cret-nats-password"
	ns := startNATS(t, -1, func(o *natsserver.Options) { o.Username, o.Password = "chathub", password })
	cfg := Config{Endpoint: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, AccessKeys: []string{testKey},
		Cluster: &cluster.Config{URL: ns.ClientURL(), User: "chathub", Password: "wrong-" + password}}
	if _, err := New(cfg); err == nil || strings.Contains(err.Error(), password) {
		t.Fatalf("New with a wrong NATS password: %v", err)
	}
	cfg.Cluster.Password = password
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New with the NATS password: %v", err)
	}
	if !srv.cluster.Ready() {
		t.Fatal("not ready with the right NATS password")
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(c); err != nil {
		t.Fatal(err)
	}
}

// TestRunCommandWithNATS runs `chathub pubsub` as a replica authenticating to NATS with a
// user and a password file: it serves and is ready, and neither its log nor the error of a
// refused password shows the password.
func TestRunCommandWithNATS(t *testing.T) {
	const password = "pw-0123456789-never-in-logs"
	ns := startNATS(t, -1, func(o *natsserver.Options) { o.Username, o.Password = "chathub", password })
	pwFile := writeKeyFile(t, password+"\n")
	cfg, err := loadCommandConfig(t, nil, "--listen", "127.0.0.1:0", "--access-key", cmdFlagKey,
		"--nats-url", ns.ClientURL(), "--nats-user", "chathub", "--nats-password-file", pwFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- RunCommand(c, cfg, logger, pw)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("RunCommand printed no line: %v; it returned %v", err, <-errc)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	cs, err := webpubsub.ParseConnectionString(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{endpoint: cs.Endpoint}
	eventually(t, "the replica to be ready", func() bool { return readyz(t, e) == http.StatusOK })
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("RunCommand: %v", err)
	}
	if !strings.Contains(logs.String(), "Connected to NATS") {
		t.Errorf("the log does not say the replica connected to NATS:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the log shows the NATS password:\n%s", logs.String())
	}

	if err := os.WriteFile(pwFile, []byte("wrong-"+password), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = loadCommandConfig(t, nil, "--listen", "127.0.0.1:0", "--access-key", cmdFlagKey,
		"--nats-url", ns.ClientURL(), "--nats-user", "chathub", "--nats-password-file", pwFile)
	if err != nil {
		t.Fatal(err)
	}
	err = RunCommand(t.Context(), cfg, logger, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "connecting to NATS") || strings.Contains(err.Error(), password) {
		t.Fatalf("RunCommand with a wrong NATS password: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
