// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The two hubs of the test, each in its own namespace, both embedded (the
// operator runs the PubSub service for each).
const (
	nsA, hubA = "e2e-a", "alpha"
	nsB, hubB = "e2e-b", "beta"
)

const hubsYAML = `apiVersion: chat.webpubsub.dev/v1
kind: ChatHub
metadata: {name: alpha, namespace: e2e-a}
spec:
  webPubSub: {embedded: {}}
---
apiVersion: chat.webpubsub.dev/v1
kind: ChatHub
metadata: {name: beta, namespace: e2e-b}
spec:
  webPubSub: {embedded: {}}
`

// TestChatHubEndToEnd runs the six scenarios in order; each builds on the
// state the previous one left, so the first failure stops the test.
func TestChatHubEndToEnd(t *testing.T) {
	ctx := context.Background()
	removeNamespaces(t, nsA, nsB)
	t.Cleanup(func() {
		if t.Failed() {
			diagnose(t, nsA, nsB)
		}
		removeNamespaces(t, nsA, nsB)
	})
	installOperator(t)

	// Port-forwards live as long as the step that starts them: each step
	// that chats opens its own.
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"two ChatHubs in two namespaces become Ready", func(t *testing.T) {
			for _, ns := range []string{nsA, nsB} {
				must(t)(kubectl(ctx, "", "create", "namespace", ns))
			}
			must(t)(kubectl(ctx, hubsYAML, "apply", "-f", "-"))
			for _, h := range [][2]string{{nsA, hubA}, {nsB, hubB}} {
				must(t)(kubectl(ctx, "", "-n", h[0], "wait", "--for=condition=Ready", "chathub/"+h[1], "--timeout="+readyTimeout))
			}
		}},
		{"the operator and the chat pods run the image pulled from the local registry", func(t *testing.T) {
			for _, q := range [][2]string{{operatorNS, "app.kubernetes.io/name=chathub-operator"}, {nsA, "app.kubernetes.io/managed-by=chathub-operator"}} {
				images := strings.Fields(must(t)(kubectl(ctx, "", "-n", q[0], "get", "pods", "-l", q[1], "-o",
					`jsonpath={range .items[*]}{range .status.containerStatuses[*]}{.image}{" "}{end}{end}`)))
				if len(images) == 0 {
					t.Fatalf("no pods with %s in %s", q[1], q[0])
				}
				for _, img := range images {
					if img != e2e.image {
						t.Errorf("a container in %s runs %s, want %s", q[0], img, e2e.image)
					}
				}
			}
			// Only the registry has that name (cluster-up imports only chathub:dev): containerd
			// resolved it there and fetched its manifests (the layers it may already hold: the
			// imported chathub:dev has the same ones).
			b, err := os.ReadFile(e2e.registryLog)
			if err != nil {
				t.Fatal(err)
			}
			repo := strings.TrimPrefix(imageRepository(), imageRepository()[:strings.Index(imageRepository(), "/")+1])
			for _, want := range []string{"HEAD /v2/" + repo + "/manifests/" + imageTag(), "GET /v2/" + repo + "/manifests/sha256:"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("the registry's log has no %q: the cluster did not pull the image from it", want)
				}
			}
		}},
		{"two users per hub chat in Chromium and nothing crosses between hubs", func(t *testing.T) {
			alpha := portForward(t, nsA, hubA, chatServicePort)
			beta := portForward(t, nsB, hubB, chatServicePort)
			b := newBrowser(t)
			alice, carol := b.join(t, alpha, "alice"), b.join(t, beta, "carol")
			bob, dave := b.join(t, alpha, "bob"), b.join(t, beta, "dave")
			alice.waitFor("notice", "", "bob joined")
			carol.waitFor("notice", "", "dave joined")
			// The first to join sees the second; rejoining shows it the other way.
			alice.rejoin()
			carol.rejoin()
			bob.waitFor("notice", "", "alice joined")
			dave.waitFor("notice", "", "carol joined")

			alice.say("hello from alice in ALPHA")
			bob.say("hi alice, bob in ALPHA here")
			carol.say("hello from carol in BETA")
			dave.say("hi carol, dave in BETA here")
			bob.waitFor("msg", "alice", "hello from alice in ALPHA")
			alice.waitFor("msg", "bob", "hi alice, bob in ALPHA here")
			dave.waitFor("msg", "carol", "hello from carol in BETA")
			carol.waitFor("msg", "dave", "hi carol, dave in BETA here")

			for _, u := range []*user{alice, bob} {
				if u.contains("BETA") || u.contains("carol") || u.contains("dave") {
					t.Errorf("%s in hub alpha sees hub beta's traffic: %s", u.name, summary(u.entries()))
				}
			}
			for _, u := range []*user{carol, dave} {
				if u.contains("ALPHA") || u.contains("alice") || u.contains("bob") {
					t.Errorf("%s in hub beta sees hub alpha's traffic: %s", u.name, summary(u.entries()))
				}
			}
		}},
		{"with the server scaled to 3 replicas chat works and every message arrives once", func(t *testing.T) {
			must(t)(kubectl(ctx, "", "-n", nsA, "patch", "chathub", hubA, "--type=merge", "-p", `{"spec":{"server":{"replicas":3}}}`))
			waitReady(t, nsA, hubA)
			eventually(t, 3*time.Minute, "deployment alpha has 3 ready replicas", func() string {
				if got := jsonpath(ctx, nsA, "deployment/"+hubA, ".status.readyReplicas"); got != "3" {
					return "readyReplicas " + got
				}
				return ""
			})
			if got := jsonpath(ctx, nsA, "chathub/"+hubA, ".status.readyReplicas"); got != "3" {
				t.Errorf("ChatHub status.readyReplicas = %q, want 3", got)
			}
			b := newBrowser(t)
			// Each user through a port-forward of its own, which may pick another pod.
			gina := b.join(t, portForward(t, nsA, hubA, chatServicePort), "gina")
			hugo := b.join(t, portForward(t, nsA, hubA, chatServicePort), "hugo")
			gina.waitFor("notice", "", "hugo joined")
			var sent []string
			for i := 1; i <= 5; i++ {
				text := fmt.Sprintf("scaled message %d", i)
				sent = append(sent, text)
				gina.say(text)
			}
			for _, text := range sent {
				hugo.waitFor("msg", "gina", text)
				gina.waitFor("msg", "gina", text)
			}
			time.Sleep(2 * time.Second) // let any duplicate arrive before counting
			for _, u := range []*user{gina, hugo} {
				for _, text := range sent {
					if n := u.count("msg", "gina", text); n != 1 {
						t.Errorf("%s sees %q %d times, want once: %s", u.name, text, n, summary(u.entries()))
					}
				}
			}
		}},
		{"rotating the hub's key rolls the pods and chat works afterwards", func(t *testing.T) {
			secret := hubA + "-connection"
			before := podNames(ctx, nsA, "app.kubernetes.io/instance="+hubA)
			hashBefore := jsonpath(ctx, nsA, "deployment/"+hubA, ".spec.template.metadata.annotations")
			key := make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				t.Fatal(err)
			}
			newKey := hex.EncodeToString(key)
			patch, _ := json.Marshal(map[string]any{"stringData": map[string]string{"accessKey": newKey}})
			must(t)(kubectl(ctx, "", "-n", nsA, "patch", "secret", secret, "--type=merge", "-p", string(patch)))
			eventually(t, 2*time.Minute, "the connection string carries the new key", func() string {
				out := jsonpath(ctx, nsA, "secret/"+secret, ".data.connectionString")
				if decoded, err := decodeBase64(out); err != nil || !strings.Contains(decoded, newKey) {
					return "the Secret's connectionString still holds another key"
				}
				return ""
			})
			eventually(t, 2*time.Minute, "the chat server's pod template changes", func() string {
				if jsonpath(ctx, nsA, "deployment/"+hubA, ".spec.template.metadata.annotations") == hashBefore {
					return "pod template annotations unchanged: " + hashBefore
				}
				return ""
			})
			must(t)(kubectl(ctx, "", "-n", nsA, "rollout", "status", "deployment/"+hubA, "--timeout="+readyTimeout))
			must(t)(kubectl(ctx, "", "-n", nsA, "rollout", "status", "deployment/"+hubA+"-pubsub", "--timeout="+readyTimeout))
			eventually(t, 2*time.Minute, "the old pods are gone", func() string {
				now := podNames(ctx, nsA, "app.kubernetes.io/instance="+hubA)
				for _, p := range before {
					if slices.Contains(now, p) {
						return "pod " + p + " still runs"
					}
				}
				return ""
			})
			waitReady(t, nsA, hubA)
			alpha := portForward(t, nsA, hubA, chatServicePort)
			b := newBrowser(t)
			erin, frank := b.join(t, alpha, "erin"), b.join(t, alpha, "frank")
			erin.waitFor("notice", "", "frank joined")
			frank.say("after the rotation")
			erin.waitFor("msg", "frank", "after the rotation")
		}},
		{"deleting a ChatHub removes its objects and registration and leaves the other hub alone", func(t *testing.T) {
			alphaPods := podNames(ctx, nsA, "app.kubernetes.io/instance="+hubA)
			must(t)(kubectl(ctx, "", "-n", nsB, "delete", "chathub", hubB, "--timeout=120s"))
			for _, obj := range []string{"deployment/" + hubB, "deployment/" + hubB + "-pubsub", "service/" + hubB,
				"service/" + hubB + "-pubsub", "secret/" + hubB + "-connection"} {
				eventually(t, 2*time.Minute, obj+" is deleted", func() string {
					if exists(ctx, nsB, obj) {
						return obj + " still exists"
					}
					return ""
				})
			}
			eventually(t, 30*time.Second, "an Unregistered event for beta", func() string {
				out, err := kubectl(ctx, "", "-n", nsB, "get", "events", "-o",
					`jsonpath={range .items[?(@.involvedObject.name=="beta")]}{.reason}{"\n"}{end}`)
				if err != nil || !slices.Contains(strings.Fields(out), "Unregistered") {
					return "events for beta: " + strings.Join(strings.Fields(out), ", ")
				}
				return ""
			})
			if got := podNames(ctx, nsA, "app.kubernetes.io/instance="+hubA); !slices.Equal(sorted(got), sorted(alphaPods)) {
				t.Errorf("hub alpha's pods changed from %v to %v", alphaPods, got)
			}
			if st, reason := condition(ctx, nsA, hubA, "Ready"); st != "True" {
				t.Errorf("hub alpha Ready = %s (%s) after deleting beta", st, reason)
			}
			alpha := portForward(t, nsA, hubA, chatServicePort)
			b := newBrowser(t)
			ivy, jack := b.join(t, alpha, "ivy"), b.join(t, alpha, "jack")
			ivy.waitFor("notice", "", "jack joined")
			jack.say("alpha still works")
			ivy.waitFor("msg", "jack", "alpha still works")
		}},
		{"helm upgrade rolls the operator and helm uninstall keeps the CRD", func(t *testing.T) {
			before := podNames(ctx, operatorNS, "app.kubernetes.io/instance="+release)
			if len(before) == 0 {
				t.Fatal("no running operator pod before the upgrade")
			}
			must(t)(helm(ctx, "upgrade", release, e2e.chart, "-n", operatorNS, "--reuse-values",
				"--set", "maxConcurrentReconciles=2", "--wait", "--timeout", "3m"))
			args := jsonpath(ctx, operatorNS, "deployment/"+operatorDeploy, ".spec.template.spec.containers[0].args")
			if !strings.Contains(args, "--max-concurrent-reconciles=2") {
				t.Errorf("operator args %s lack the upgraded value", args)
			}
			eventually(t, 2*time.Minute, "the operator pods are replaced", func() string {
				now := podNames(ctx, operatorNS, "app.kubernetes.io/instance="+release)
				if len(now) == 0 {
					return "no operator pod runs"
				}
				for _, p := range before {
					if slices.Contains(now, p) {
						return "old operator pod " + p + " still runs"
					}
				}
				return ""
			})
			waitReady(t, nsA, hubA)

			must(t)(helm(ctx, "uninstall", release, "-n", operatorNS, "--wait", "--timeout", "2m"))
			eventually(t, time.Minute, "the operator is gone", func() string {
				if exists(ctx, operatorNS, "deployment/"+operatorDeploy) {
					return "its Deployment still exists"
				}
				return ""
			})
			if _, err := kubectl(ctx, "", "get", "crd", "chathubs.chat.webpubsub.dev"); err != nil {
				t.Errorf("the ChatHub CRD is gone after helm uninstall: %v", err)
			}
			if !exists(ctx, nsA, "chathub/"+hubA) {
				t.Error("ChatHub alpha is gone after helm uninstall")
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

// installOperator installs (or upgrades) the chart with the image in the
// local registry (the chat pods run the operator's image too).
func installOperator(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	must(t)(helm(ctx, "upgrade", "--install", release, e2e.chart, "-n", operatorNS, "--create-namespace",
		"--set", "image.repository="+imageRepository(), "--set", "image.tag="+imageTag(), "--set", "image.pullPolicy=IfNotPresent",
		"--set", "natsImage="+e2e.natsImage, "--wait", "--timeout", "3m"))
}

// waitReady waits until the ChatHub's status describes its current spec and
// says Ready.
func waitReady(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	eventually(t, 3*time.Minute, "ChatHub "+ns+"/"+name+" Ready for its generation", func() string {
		gen := jsonpath(ctx, ns, "chathub/"+name, ".metadata.generation")
		obs := jsonpath(ctx, ns, "chathub/"+name, ".status.observedGeneration")
		st, reason := condition(ctx, ns, name, "Ready")
		if gen == "" || gen != obs || st != "True" {
			return fmt.Sprintf("generation %s, observedGeneration %s, Ready %s (%s)", gen, obs, st, reason)
		}
		return ""
	})
}

// removeNamespaces deletes the test namespaces, first freeing their ChatHubs
// of the finalizer when no operator is left to remove it.
func removeNamespaces(t *testing.T, namespaces ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	operatorUp := exists(ctx, operatorNS, "deployment/"+operatorDeploy)
	for _, ns := range namespaces {
		if !exists(ctx, "", "namespace/"+ns) {
			continue
		}
		if !operatorUp {
			out, _ := kubectl(ctx, "", "-n", ns, "get", "chathubs", "-o", "name")
			for _, obj := range strings.Fields(out) {
				_, _ = kubectl(ctx, "", "-n", ns, "patch", obj, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
			}
		}
		if _, err := kubectl(ctx, "", "delete", "namespace", ns, "--wait", "--timeout=150s"); err != nil {
			t.Logf("removing namespace %s: %v", ns, err)
		}
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
