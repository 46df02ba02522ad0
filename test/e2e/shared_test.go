// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The shared instance and its three ChatHubs, all in one namespace.
const (
	nsShared             = "e2e-shared"
	instance             = "shared"
	closePolicyViolation = 1008
)

var sharedHubs = []string{"red", "green", "blue"}

const sharedYAML = `apiVersion: chat.webpubsub.dev/v1
kind: WebPubSubService
metadata: {name: shared, namespace: e2e-shared}
spec: {}
---
apiVersion: chat.webpubsub.dev/v1
kind: ChatHub
metadata: {name: red, namespace: e2e-shared}
spec:
  webPubSub: {serviceRef: {name: shared}}
---
apiVersion: chat.webpubsub.dev/v1
kind: ChatHub
metadata: {name: green, namespace: e2e-shared}
spec:
  webPubSub: {serviceRef: {name: shared}}
---
apiVersion: chat.webpubsub.dev/v1
kind: ChatHub
metadata: {name: blue, namespace: e2e-shared}
spec:
  webPubSub: {serviceRef: {name: shared}}
`

// TestSharedServiceEndToEnd sets up three ChatHubs on one WebPubSubService:
// they chat without crossing, survive the deletion of the instance's pod
// (the first message after it is delivered, no 1008 close) and a key
// rotation during a chat (no message lost). The users are WebSocket clients
// (wsUser), which see close codes a browser page hides.
func TestSharedServiceEndToEnd(t *testing.T) {
	ctx := context.Background()
	removeNamespaces(t, nsShared)
	t.Cleanup(func() { removeInstanceNamespace(t, nsShared, instance) })
	installOperator(t)

	must(t)(kubectl(ctx, "", "create", "namespace", nsShared))
	must(t)(kubectl(ctx, sharedYAML, "apply", "-f", "-"))
	must(t)(kubectl(ctx, "", "-n", nsShared, "wait", "--for=condition=Ready", "wpss/"+instance, "--timeout="+readyTimeout))
	for _, h := range sharedHubs {
		must(t)(kubectl(ctx, "", "-n", nsShared, "wait", "--for=condition=Ready", "chathub/"+h, "--timeout="+readyTimeout))
	}
	if got := jsonpath(ctx, nsShared, "wpss/"+instance, ".status.hubs"); got != "3" {
		t.Errorf("instance status.hubs = %q, want 3", got)
	}
	if pods := podNames(ctx, nsShared, "app.kubernetes.io/instance="+instance); len(pods) != 1 {
		t.Errorf("instance pods %v, want one", pods)
	}
	// The port-forwards and the two users of each hub live across the steps
	// (the chat servers stay until the rotation step, which has its own).
	users := map[string][2]*wsUser{}
	chatURLs := map[string]string{}
	for _, h := range sharedHubs {
		chatURLs[h] = portForward(t, nsShared, h, chatServicePort)
		users[h] = [2]*wsUser{wsJoin(t, chatURLs[h], "", h+"-ann"), wsJoin(t, chatURLs[h], "", h+"-ben")}
	}
	bind := func(t *testing.T) {
		for _, us := range users {
			for _, u := range us {
				u.t = t
			}
		}
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"two users chat in each hub and nothing crosses between hubs", func(t *testing.T) {
			bind(t)
			for _, h := range sharedHubs {
				a, b := users[h][0], users[h][1]
				a.say("hello from " + a.name)
				b.say("hi from " + b.name)
			}
			for _, h := range sharedHubs {
				a, b := users[h][0], users[h][1]
				for _, u := range []*wsUser{a, b} {
					u.waitFor(a.name, "hello from "+a.name)
					u.waitFor(b.name, "hi from "+b.name)
				}
			}
			time.Sleep(2 * time.Second) // let anything misrouted arrive before looking for it
			checkNoCrossing(t, users)
		}},
		{"after the instance's pod is deleted the first message of every user is delivered", func(t *testing.T) {
			bind(t)
			selector := "app.kubernetes.io/instance=" + instance
			old := podNames(ctx, nsShared, selector)
			if len(old) != 1 {
				t.Fatalf("instance pods %v, want one", old)
			}
			must(t)(kubectl(ctx, "", "-n", nsShared, "delete", "pod", old[0], "--wait=false"))
			var fresh string
			eventually(t, 3*time.Minute, "a new instance pod is Ready", func() string {
				out, err := kubectl(ctx, "", "-n", nsShared, "get", "pods", "-l", selector, "-o",
					`jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
				if err != nil {
					return err.Error()
				}
				for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
					f := strings.Fields(line)
					if len(f) == 2 && f[0] != old[0] && f[1] == "True" {
						fresh = f[0]
						return ""
					}
				}
				return "pods: " + strings.ReplaceAll(out, "\n", "; ")
			})
			t.Logf("instance pod %s replaced by %s", old[0], fresh)
			// The old pod's connections end (the chat server proxies the close);
			// then each user connects again, as the UI would.
			for _, h := range sharedHubs {
				for _, u := range users[h] {
					eventually(t, time.Minute, u.name+"'s connection to the deleted pod ends", func() string {
						if u.ended() {
							return ""
						}
						return "still open"
					})
					u.connect(negotiate(t, chatURLs[h], u.name), "")
				}
			}
			for _, h := range sharedHubs {
				for _, u := range users[h] {
					u.say("first after the restart from " + u.name)
				}
			}
			for _, h := range sharedHubs {
				for _, u := range users[h] {
					for _, from := range users[h] {
						u.waitFor(from.name, "first after the restart from "+from.name)
					}
				}
			}
			for _, h := range sharedHubs {
				for _, u := range users[h] {
					if slices.Contains(u.closeCodes(), closePolicyViolation) {
						t.Errorf("%s got a 1008 close: %s", u.name, u.state())
					}
				}
			}
			checkNoCrossing(t, users)
		}},
		{"a key rotation during a chat loses no message", func(t *testing.T) {
			// A kubectl port-forward is bound to one pod and the rotation rolls
			// the chat servers, so the users of this chat negotiate through the
			// chat server, then connect to the instance's Service itself with
			// the same URL (what the chat server's proxy does). Their chat
			// spans the whole rotation.
			h := sharedHubs[0]
			via := portForward(t, nsShared, instance, 7070)
			ada := wsJoin(t, chatURLs[h], via, h+"-ada")
			bo := wsJoin(t, chatURLs[h], via, h+"-bo")
			keyBefore := jsonpath(ctx, nsShared, "wpss/"+instance, ".status.activeKey")
			if keyBefore == "" {
				keyBefore = "Primary"
			}
			chatPods := podNames(ctx, nsShared, "app.kubernetes.io/instance="+h)
			must(t)(kubectl(ctx, "", "-n", nsShared, "annotate", "wpss", instance, "chat.webpubsub.dev/rotate-key="+strings.ToLower(keyBefore)))

			var sent []string
			rotated := func() bool {
				return strings.EqualFold(jsonpath(ctx, nsShared, "wpss/"+instance, ".status.lastKeyRotation.key"), keyBefore) &&
					jsonpath(ctx, nsShared, "wpss/"+instance, `.metadata.annotations.chat\.webpubsub\.dev/rotate-key`) == ""
			}
			deadline := time.Now().Add(3 * time.Minute)
			for i := 1; ; i++ {
				from := []*wsUser{ada, bo}[i%2]
				text := fmt.Sprintf("during the rotation %d", i)
				from.say(text)
				sent = append(sent, from.name+"\x00"+text)
				if i%4 == 0 && rotated() {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the rotation of the %s key did not finish in 3m: %s",
						keyBefore, jsonpath(ctx, nsShared, "wpss/"+instance, ".status"))
				}
				time.Sleep(time.Second)
			}
			for _, u := range []*wsUser{ada, bo} {
				u.say("after the rotation from " + u.name)
				sent = append(sent, u.name+"\x00after the rotation from "+u.name)
			}
			t.Logf("%d messages sent during the rotation", len(sent))
			for _, s := range sent {
				from, text, _ := strings.Cut(s, "\x00")
				ada.waitFor(from, text)
				bo.waitFor(from, text)
			}
			for _, u := range []*wsUser{ada, bo} {
				if u.ended() || len(u.closeCodes()) > 0 {
					t.Errorf("%s's connection ended during the rotation: %s", u.name, u.state())
				}
			}
			if got := jsonpath(ctx, nsShared, "wpss/"+instance, ".status.activeKey"); strings.EqualFold(got, keyBefore) {
				t.Errorf("status.activeKey is still %s after rotating it", got)
			}
			if now := podNames(ctx, nsShared, "app.kubernetes.io/instance="+h); len(now) > 0 && slices.Equal(sorted(now), sorted(chatPods)) {
				t.Errorf("the chat server pods of %s did not roll: %v", h, now)
			}
			// A new user negotiates with the new key through the rolled chat server.
			must(t)(kubectl(ctx, "", "-n", nsShared, "rollout", "status", "deployment/"+h, "--timeout="+readyTimeout))
			chat := portForward(t, nsShared, h, chatServicePort)
			cy := wsJoin(t, chat, "", h+"-cy")
			cy.say("new key works")
			ada.waitFor(cy.name, "new key works")
			cy.waitFor(cy.name, "new key works")
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			bind(t)
			t.FailNow()
		}
	}
	bind(t)
}

// checkNoCrossing fails when a user of one hub received anything naming a
// user of another hub.
func checkNoCrossing(t *testing.T, users map[string][2]*wsUser) {
	t.Helper()
	for h, us := range users {
		for other := range users {
			if other == h {
				continue
			}
			for _, u := range us {
				if u.mentions(other + "-") {
					t.Errorf("%s in hub %s received traffic of hub %s: %s", u.name, h, other, u.state())
				}
			}
		}
	}
}

// removeInstanceNamespace removes a namespace with a WebPubSubService and
// its ChatHubs, after printing what explains a failure (diagnose, the
// instances and their NATS, the instance's pods' logs).
func removeInstanceNamespace(t *testing.T, ns, instance string) {
	ctx := context.Background()
	if t.Failed() {
		diagnose(t, ns)
		out, err := kubectl(ctx, "", "-n", ns, "get", "wpss,statefulsets,pdb", "-o", "yaml")
		t.Logf("==== instances, NATS, budgets ====\n%s %v", out, err)
		out, err = kubectl(ctx, "", "-n", ns, "logs", "-l", "app.kubernetes.io/instance="+instance,
			"--all-containers", "--prefix", "--tail=100", "--max-log-requests=10")
		t.Logf("==== instance and NATS logs ====\n%s %v", out, err)
	}
	// The ChatHubs go first, while the instance can still remove their
	// handlers: a namespace deletion removes the instance at the same time
	// and holds each ChatHub's finalizer for the operator's delete timeout.
	if exists(ctx, "", "namespace/"+ns) {
		if _, err := kubectl(ctx, "", "-n", ns, "delete", "chathubs", "--all", "--timeout=60s"); err != nil {
			t.Logf("deleting the ChatHubs of %s: %v", ns, err)
		}
	}
	removeNamespaces(t, ns)
}
