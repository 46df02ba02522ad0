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

// The scaled-out instance: three PubSub replicas on a managed NATS cluster of
// three, and one ChatHub on it.
const (
	nsScale     = "e2e-scale"
	bigInstance = "big"
	roomHub     = "room"
)

const scaleYAML = `apiVersion: chat.webpubsub.dev/v1
kind: WebPubSubService
metadata: {name: big, namespace: e2e-scale}
spec:
  replicas: 3
  nats: {managed: {}}
---
apiVersion: chat.webpubsub.dev/v1
kind: ChatHub
metadata: {name: room, namespace: e2e-scale}
spec:
  webPubSub: {serviceRef: {name: big}}
`

// TestScaleOutEndToEnd runs a WebPubSubService of three replicas with the
// NATS cluster the operator runs for it. One user is connected to each
// replica (a port-forward to each pod); they chat, so every message crosses
// NATS to the other two replicas. Then one replica is deleted mid-chat: the
// users of the other two go on without losing a message, and the user of
// the deleted one connects again through the chat server (to any replica)
// and the chat goes on.
func TestScaleOutEndToEnd(t *testing.T) {
	ctx := context.Background()
	removeNamespaces(t, nsScale)
	t.Cleanup(func() { removeInstanceNamespace(t, nsScale, bigInstance) })
	installOperator(t)

	must(t)(kubectl(ctx, "", "create", "namespace", nsScale))
	must(t)(kubectl(ctx, scaleYAML, "apply", "-f", "-"))
	must(t)(kubectl(ctx, "", "-n", nsScale, "wait", "--for=condition=Ready", "wpss/"+bigInstance, "--timeout="+readyTimeout))
	must(t)(kubectl(ctx, "", "-n", nsScale, "rollout", "status", "statefulset/"+bigInstance+"-nats", "--timeout="+readyTimeout))
	must(t)(kubectl(ctx, "", "-n", nsScale, "rollout", "status", "deployment/"+bigInstance, "--timeout="+readyTimeout))
	must(t)(kubectl(ctx, "", "-n", nsScale, "wait", "--for=condition=Ready", "chathub/"+roomHub, "--timeout="+readyTimeout))

	replicas := podNames(ctx, nsScale, "app.kubernetes.io/instance="+bigInstance+",app.kubernetes.io/component=pubsub-instance")
	if len(replicas) != 3 {
		t.Fatalf("instance pods %v, want 3", replicas)
	}
	// The status follows the Deployment's at the next reconcile.
	eventually(t, time.Minute, "status.replicas of the instance is 3", func() string {
		if got := jsonpath(ctx, nsScale, "wpss/"+bigInstance, ".status.replicas"); got != "3" {
			return "status.replicas = " + got
		}
		return ""
	})
	chatURL := portForward(t, nsScale, roomHub, chatServicePort)
	users := make([]*wsUser, len(replicas))
	for i, pod := range replicas {
		via := portForwardTo(t, nsScale, "pod/"+pod, 7070)
		users[i] = wsJoin(t, chatURL, via, fmt.Sprintf("user%d", i))
	}
	bind := func(t *testing.T) {
		for _, u := range users {
			u.t = t
		}
	}

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"users on three replicas chat", func(t *testing.T) {
			bind(t)
			for _, u := range users {
				u.say("hello from " + u.name)
			}
			for _, u := range users {
				for _, from := range users {
					u.waitFor(from.name, "hello from "+from.name)
				}
			}
		}},
		{"a replica deleted mid-chat: the others lose nothing and its user comes back", func(t *testing.T) {
			bind(t)
			gone, stay := users[0], users[1:]
			must(t)(kubectl(ctx, "", "-n", nsScale, "delete", "pod", replicas[0], "--wait=false"))
			// 10 s of chat: past the replica's pre-stop sleep (5 s) and through its shutdown.
			var sent []string
			for i := range 40 {
				from := stay[i%2]
				text := fmt.Sprintf("while a replica goes %d", i)
				from.say(text)
				sent = append(sent, from.name+"\x00"+text)
				time.Sleep(250 * time.Millisecond)
			}
			// No message was refused: the chat server's REST calls that still reached the
			// deleted replica were answered, or sent again to another.
			for _, u := range stay {
				if r := u.refusals(); len(r) > 0 {
					t.Errorf("%s's messages were refused while a replica went: %q", u.name, r)
				}
			}
			for _, s := range sent {
				from, text, _ := strings.Cut(s, "\x00")
				for _, u := range stay {
					u.waitFor(from, text)
				}
			}
			for _, u := range stay {
				if u.ended() {
					t.Errorf("%s on a replica that stays was disconnected: %s", u.name, u.state())
				}
			}
			eventually(t, time.Minute, gone.name+"'s connection to the deleted replica ends", func() string {
				if gone.ended() {
					return ""
				}
				return "still open"
			})
			// As the UI does: negotiate again and connect through the chat
			// server, which reaches any replica that is ready.
			gone.connect(negotiate(t, chatURL, gone.name), "")
			gone.say("back from " + gone.name)
			for _, u := range users {
				u.waitFor(gone.name, "back from "+gone.name)
			}
			stay[0].say("welcome back")
			gone.waitFor(stay[0].name, "welcome back")
			eventually(t, 3*time.Minute, "three instance replicas again", func() string {
				now := podNames(ctx, nsScale, "app.kubernetes.io/instance="+bigInstance+",app.kubernetes.io/component=pubsub-instance")
				if len(now) != 3 || slices.Contains(now, replicas[0]) {
					return fmt.Sprintf("pods %v", now)
				}
				return ""
			})
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
