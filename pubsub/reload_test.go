// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/internal/proc"
	"github.com/chathub/chathub/webpubsub"
)

const (
	rotatedKey = "rotated-key-0123456789abcdefghijklmnopq"
	// testReload keeps the tests quick; what a reload does is the same at any interval.
	testReload = 10 * time.Millisecond
)

var testResource = webpubsub.ResourceID{SubscriptionID: "sub-1", ResourceGroup: "rg-1", Name: "local"}

// writeFile replaces the content of path in one step (a rename, as Kubernetes swaps the
// files of a mounted Secret), so a poll never reads half a file.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// dialKey dials a raw client of hub chat as user with a token signed with key.
func dialKey(endpoint *url.URL, key, user string) (*websocket.Conn, *http.Response, error) {
	a, err := webpubsub.ClientAccessFor(endpoint, key, testHub, webpubsub.ClientTokenOptions{UserID: user}, time.Now())
	if err != nil {
		return nil, nil, err
	}
	return tryDial(a.URL, nil)
}

// restWith returns a REST client of hub chat that signs with key.
func restWith(t *testing.T, endpoint *url.URL, key string) *webpubsub.Client {
	t.Helper()
	c, err := webpubsub.NewClient(&webpubsub.ConnectionString{Endpoint: endpoint, AccessKey: key, Version: "1.0"}, testHub, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// armWith returns a client of the ARM-shaped API that signs with key.
func armWith(t *testing.T, endpoint *url.URL, key string) *webpubsub.HubsClient {
	t.Helper()
	c, err := webpubsub.NewHubsClient(endpoint.String(), testResource, webpubsub.AccessKeyTokenSource(key), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getStatus(t *testing.T, rawURL string) int {
	t.Helper()
	resp, err := http.Get(rawURL) //nolint:gosec,noctx // G107: a URL of the test's own server
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestRunCommandAcceptsEitherKeyAndRotatesWithoutDroppingClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	primary, secondary := filepath.Join(dir, "primary"), filepath.Join(dir, "secondary")
	writeFile(t, primary, cmdFileKey+"\n")
	writeFile(t, secondary, cmdFileKey2+"\n")
	line, _, _ := startCommand(t, CommandConfig{
		Listen: "127.0.0.1:0", AccessKeyFiles: []string{primary, secondary}, ReloadInterval: testReload,
	})
	if strings.Contains(line, cmdFileKey) || strings.Contains(line, cmdFileKey2) || !strings.Contains(line, "AccessKey=***") {
		t.Fatalf("printed %q, want the primary key redacted", line)
	}
	cs, err := webpubsub.ParseConnectionString(line)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := cs.Endpoint
	if got := getStatus(t, endpoint.String()+"/readyz"); got != http.StatusOK {
		t.Fatalf("/readyz: %d, want 200 while serving", got)
	}

	// Either key works for clients, the REST API and the ARM-shaped API.
	for _, key := range []string{cmdFileKey, cmdFileKey2} {
		ws, _, err := dialKey(endpoint, key, "probe")
		if err != nil {
			t.Fatalf("a client token signed with one of the keys was refused: %v", err)
		}
		_ = ws.Close()
		if err := restWith(t, endpoint, key).Health(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := restWith(t, endpoint, key).UserExists(ctx(t), "ann"); err != nil {
			t.Fatalf("a REST token signed with one of the keys was refused: %v", err)
		}
	}
	keys, err := armWith(t, endpoint, cmdFileKey2).ListKeys(ctx(t))
	if err != nil {
		t.Fatalf("an ARM token signed with the secondary key was refused: %v", err)
	}
	if keys.PrimaryKey != cmdFileKey || keys.SecondaryKey != cmdFileKey2 {
		t.Fatal("listKeys does not report the two keys of the files")
	}

	ann, _, err := dialKey(endpoint, cmdFileKey, "ann")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ann.Close() })
	eventually(t, "ann to be registered", func() bool {
		ok, _ := restWith(t, endpoint, cmdFileKey2).UserExists(ctx(t), "ann")
		return ok
	})

	// Rotate the primary key.
	writeFile(t, primary, rotatedKey+"\n")
	eventually(t, "the rotated primary key to be accepted", func() bool {
		ws, _, err := dialKey(endpoint, rotatedKey, "probe")
		if err == nil {
			_ = ws.Close()
		}
		return err == nil
	})
	if _, resp, err := dialKey(endpoint, cmdFileKey, "eve"); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a client token signed with the old primary key: %v, want a 401", err)
	}
	if _, err := restWith(t, endpoint, cmdFileKey).UserExists(ctx(t), "ann"); webpubsub.StatusCodeOf(err) != http.StatusUnauthorized {
		t.Fatalf("a REST token signed with the old primary key: %v, want a 401", err)
	}
	if _, err := armWith(t, endpoint, cmdFileKey).ListKeys(ctx(t)); webpubsub.StatusCodeOf(err) != http.StatusUnauthorized {
		t.Fatalf("an ARM token signed with the old primary key: %v, want a 401", err)
	}
	keys, err = armWith(t, endpoint, rotatedKey).ListKeys(ctx(t))
	if err != nil || keys.PrimaryKey != rotatedKey || keys.SecondaryKey != cmdFileKey2 {
		t.Fatalf("listKeys after the rotation: %v; want the rotated primary and the unchanged secondary", err)
	}

	// The client that connected with the old key is still connected and receives.
	if err := restWith(t, endpoint, cmdFileKey2).SendToUser(ctx(t), "ann", webpubsub.TextContent("still here"), nil); err != nil {
		t.Fatal(err)
	}
	_ = ann.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, data, err := ann.ReadMessage(); err != nil || string(data) != "still here" {
		t.Fatalf("the client connected before the rotation got %q, %v; want the message", data, err)
	}
}

// eventSink is an event handler that records the user events it gets.
type eventSink struct {
	*httptest.Server
	events chan string
}

func newEventSink(t *testing.T) *eventSink {
	t.Helper()
	s := &eventSink{events: make(chan string, 16)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set(webpubsub.HeaderAllowedOrigin, "*")
			return
		}
		if strings.HasPrefix(r.Header.Get(webpubsub.HeaderType), "azure.webpubsub.user.") {
			s.events <- r.Header.Get(webpubsub.HeaderHub) + " " + r.Header.Get(webpubsub.HeaderEventName)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// handlerEntry is a settings file entry sending every user event of hub to s.
func (s *eventSink) handlerEntry(hub string) string {
	return `"` + hub + `":{"eventHandlers":[{"urlTemplate":"` + s.URL + `/eventhandler","userEventPattern":"*"}]}`
}

func TestRunCommandDeliversTheFirstUserEventAndReloadsTheSettingsFile(t *testing.T) {
	t.Parallel()
	first, second := newEventSink(t), newEventSink(t)
	settingsFile := filepath.Join(t.TempDir(), "hubs.json")
	writeFile(t, settingsFile, `{"hubs":{`+first.handlerEntry(testHub)+`,`+first.handlerEntry("gone")+`}}`)
	line, _, _ := startCommand(t, CommandConfig{
		Listen: "127.0.0.1:0", AccessKey: cmdFlagKey, SettingsFile: settingsFile, ReloadInterval: testReload,
	})
	cs, err := webpubsub.ParseConnectionString(line)
	if err != nil {
		t.Fatal(err)
	}

	// The very first client's very first message reaches the file's handler: no 1008.
	ws, _, err := dialKey(cs.Endpoint, cmdFlagKey, "ann")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := <-first.events; got != testHub+" message" {
		t.Fatalf("the handler of the settings file got %q, want the message event of hub chat", got)
	}

	// A hub set through the ARM-shaped API stays when the file changes without it.
	arm := armWith(t, cs.Endpoint, cmdFlagKey)
	live := &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{{
		URLTemplate: first.URL + "/live", UserEventPattern: "*",
	}}}}
	if _, err := arm.CreateOrUpdate(ctx(t), "live", live); err != nil {
		t.Fatal(err)
	}

	writeFile(t, settingsFile, `{"hubs":{`+second.handlerEntry(testHub)+`}}`)
	eventually(t, "the rewritten settings file to be applied", func() bool {
		hs, err := arm.Get(ctx(t), testHub)
		return err == nil && len(hs.Properties.EventHandlers) == 1 && strings.HasPrefix(hs.Properties.EventHandlers[0].URLTemplate, second.URL)
	})
	if err := ws.WriteMessage(websocket.TextMessage, []byte("again")); err != nil {
		t.Fatal(err)
	}
	if got := <-second.events; got != testHub+" message" {
		t.Fatalf("the new handler got %q, want the next message event of hub chat", got)
	}
	if len(first.events) != 0 {
		t.Fatalf("the old handler got %q after the file changed", <-first.events)
	}
	if _, err := arm.Get(ctx(t), "gone"); webpubsub.StatusCodeOf(err) != http.StatusNotFound {
		t.Fatalf("hub gone, dropped from the file: %v, want a 404", err)
	}
	if hs, err := arm.Get(ctx(t), "live"); err != nil || hs.Properties.EventHandlers[0].URLTemplate != first.URL+"/live" {
		t.Fatalf("hub live, set through the API: %v, want its settings kept", err)
	}
}

func TestReloaderKeepsTheLastGoodFilesAndWarnsOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	primary, settingsFile := filepath.Join(dir, "primary"), filepath.Join(dir, "hubs.json")
	writeFile(t, primary, cmdFileKey)
	sink := newEventSink(t)
	writeFile(t, settingsFile, `{"hubs":{`+sink.handlerEntry(testHub)+`}}`)
	cfg := CommandConfig{AccessKeyFiles: []string{primary}, SettingsFile: settingsFile}
	keys, _, err := cfg.ResolveAccessKeys()
	if err != nil {
		t.Fatal(err)
	}
	store, err := cfg.SettingsStore()
	if err != nil {
		t.Fatal(err)
	}
	var logs proc.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	e := newEnv(t, func(c *Config) { c.AccessKeys, c.Settings = keys, store })
	r := newReloader(&cfg, keys, e.srv, store, logger)

	accepted := func(key string) bool {
		ws, _, err := dialKey(e.endpoint, key, "probe")
		if err == nil {
			_ = ws.Close()
		}
		return err == nil
	}
	for _, bad := range []string{"short", "  \n"} {
		writeFile(t, primary, bad)
		r.reloadKeys()
		r.reloadKeys()
	}
	if err := os.Remove(primary); err != nil {
		t.Fatal(err)
	}
	r.reloadKeys()
	writeFile(t, settingsFile, `{"hubs":`)
	r.reloadSettings()
	r.reloadSettings()

	out := logs.String()
	if n := strings.Count(out, "Keeping the last good access key"); n != 1 {
		t.Fatalf("%d warnings about the key file, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "Keeping the last good hub settings"); n != 1 {
		t.Fatalf("%d warnings about the settings file, want 1:\n%s", n, out)
	}
	if strings.Contains(out, cmdFileKey) {
		t.Fatal("the log shows the key")
	}
	if !accepted(cmdFileKey) {
		t.Fatal("the last good key is no longer accepted")
	}
	if _, ok := store.Get(testHub); !ok {
		t.Fatal("the last good hub settings were dropped")
	}

	writeFile(t, primary, rotatedKey)
	r.reloadKeys()
	if !accepted(rotatedKey) || accepted(cmdFileKey) {
		t.Fatal("after a good key came back, want only it accepted")
	}
	writeFile(t, settingsFile, `{"hubs":{}}`)
	r.reloadSettings()
	if _, ok := store.Get(testHub); ok {
		t.Fatal("the good settings file without the hub did not remove it")
	}
	if strings.Contains(logs.String(), rotatedKey) {
		t.Fatal("the log shows the key")
	}
}

func TestReadyzAnswers503DuringShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	base := e.endpoint.String()
	for _, path := range []string{"/healthz", "/readyz", "/api/health"} {
		if got := getStatus(t, base+path); got != http.StatusOK {
			t.Fatalf("%s: %d before shutdown, want 200", path, got)
		}
	}
	if err := e.srv.Shutdown(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// The HTTP server still runs: the service is shutting down, not gone.
	if got := getStatus(t, base+"/readyz"); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz: %d during shutdown, want 503", got)
	}
	for _, path := range []string{"/healthz", "/api/health"} {
		if got := getStatus(t, base+path); got != http.StatusOK {
			t.Fatalf("%s: %d during shutdown, want 200 (the process is alive)", path, got)
		}
	}
}
