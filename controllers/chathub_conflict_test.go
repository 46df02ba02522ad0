// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// azureHub is a ChatHub on the local Azure resource with the given hub.
func azureHub(name, ns, hubName string) *chatv1.ChatHub {
	h := embeddedHub(name, ns)
	h.Spec.Hub = hubName
	h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{
		ResourceID: suite.azure.ResourceID(), ManagementEndpoint: suite.azure.arm.URL,
	}}
	return h
}

// consistently fails the test if f returns an error at any poll during d.
func consistently(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// markAvailable plays the Deployment controller, which envtest lacks: once
// the Deployment exists, its status says all its pods are available.
func markAvailable(t testing.TB, ns, name string) {
	t.Helper()
	eventually(t, 60*time.Second, "marking Deployment "+name+" available", func() error {
		var d appsv1.Deployment
		if err := getObj(ns, name, &d); err != nil {
			return err
		}
		n := int32(1)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		if n == 0 {
			return fmt.Errorf("the Deployment is scaled to zero")
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
			ReadyReplicas: n, AvailableReplicas: n, Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}}
		return suite.client.Status().Update(suite.ctx, &d)
	})
}

// azureHandlers is the handler URLs registered for hub at the local Azure.
func azureHandlers(hub string) []string {
	hs, ok := suite.azure.store.Get(hub)
	if !ok {
		return nil
	}
	var urls []string
	for _, h := range hs.Properties.EventHandlers {
		urls = append(urls, h.URLTemplate)
	}
	return urls
}

func TestHubConflictAcrossNamespaces(t *testing.T) {
	tests := map[string]struct{ ownerHub, otherHub string }{
		"the same hub name conflicts":                 {ownerHub: "lobby", otherHub: "lobby"},
		"hub names that differ only in case conflict": {ownerHub: "Lobby", otherHub: "lobby"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			suffix := "_" + randomHex(4)
			teamA, teamB := newNamespace(t), newNamespace(t)
			owner := azureHub("lobby", teamA, tc.ownerHub+suffix)
			mustCreate(t, owner)
			created := waitCondition(t, "lobby", teamA, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered).CreationTimestamp
			// creationTimestamp has seconds: within the same second the UID
			// would decide which one is older.
			time.Sleep(time.Until(created.Add(1100 * time.Millisecond)))
			ownerURL := "http://lobby." + teamA + ".svc/eventhandler"

			mustCreate(t, azureHub("lobby", teamB, tc.otherHub+suffix))
			got := waitCondition(t, "lobby", teamB, chatv1.ConditionReady, metav1.ConditionFalse, chatv1.ReasonHubConflict)
			for _, typ := range []string{chatv1.ConditionReady, chatv1.ConditionServerAvailable, chatv1.ConditionEventHandlerRegistered} {
				c := findCondition(got, typ)
				if typ != chatv1.ConditionReady && c.Reason != chatv1.ReasonHubConflict {
					t.Errorf("condition %s has reason %s, want HubConflict", typ, c.Reason)
				}
				if !strings.Contains(c.Message, "ChatHub "+teamA+"/lobby") {
					t.Errorf("condition %s message %q does not name the owner %s/lobby", typ, c.Message, teamA)
				}
			}
			ev := waitEvent(t, "lobby", teamB, chatv1.ReasonHubConflict, corev1.EventTypeWarning)
			if !strings.Contains(ev.Note, teamA+"/lobby") {
				t.Errorf("event note %q does not name the owner", ev.Note)
			}
			consistently(t, 2*time.Second, "the loser stands down", func() error {
				var d appsv1.Deployment
				if err := getObj(teamB, "lobby", &d); !apierrors.IsNotFound(err) {
					return fmt.Errorf("the loser has a chat server Deployment (err %w)", err)
				}
				if diff := cmp.Diff([]string{ownerURL}, azureHandlers(tc.otherHub+suffix)); diff != "" {
					return fmt.Errorf("handlers at the service (-want +got):\n%s", diff)
				}
				return nil
			})
			// The owner is unaffected.
			waitCondition(t, "lobby", teamA, chatv1.ConditionServerAvailable, metav1.ConditionFalse, chatv1.ReasonDeploymentProgressing)

			// When the owner goes, the other takes over without anyone touching it.
			if err := suite.client.Delete(suite.ctx, owner); err != nil {
				t.Fatal(err)
			}
			waitGone(t, "lobby", teamA)
			markAvailable(t, teamB, "lobby")
			waitCondition(t, "lobby", teamB, chatv1.ConditionReady, metav1.ConditionTrue, chatv1.ReasonReady)
			if diff := cmp.Diff([]string{"http://lobby." + teamB + ".svc/eventhandler"}, azureHandlers(tc.otherHub+suffix)); diff != "" {
				t.Errorf("handlers at the service after the takeover (-want +got):\n%s", diff)
			}
			if h, _ := getHub("lobby", teamB); h.Generation != 1 {
				t.Errorf("the ChatHub was changed (generation %d)", h.Generation)
			}
			if err := suite.client.Delete(suite.ctx, &chatv1.ChatHub{ObjectMeta: metav1.ObjectMeta{Name: "lobby", Namespace: teamB}}); err != nil {
				t.Fatal(err)
			}
			waitGone(t, "lobby", teamB)
		})
	}
}

func TestHubKeys(t *testing.T) {
	withStatus := func(h *chatv1.ChatHub, endpoint string) *chatv1.ChatHub {
		h.Status.Endpoint = endpoint
		return h
	}
	secretHub := func(ns, hub string) *chatv1.ChatHub {
		h := embeddedHub("chat", ns)
		h.Spec.Hub = hub
		h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps"}}
		return h
	}
	conn := func(endpoint string) *connection {
		cs, err := webpubsub.ParseConnectionString("Endpoint=" + endpoint + ";AccessKey=" + strings.Repeat("k", 40) + ";Version=1.0;")
		if err != nil {
			t.Fatal(err)
		}
		return &connection{cs: cs}
	}
	rid := "/subscriptions/S/resourceGroups/RG/providers/Microsoft.SignalRService/webPubSub/Chat"
	tests := map[string]struct {
		hub  *chatv1.ChatHub
		conn *connection
		want []string
	}{
		"an Azure source is keyed by its lower-case resource ID": {
			hub:  azureHubWithID("a", "lobby", rid),
			want: []string{"arm:" + strings.ToLower(rid) + "|lobby"},
		},
		"an Azure source with a known endpoint is keyed by both": {
			hub:  withStatus(azureHubWithID("a", "Lobby", rid+"/"), "https://chat.webpubsub.azure.com"),
			want: []string{"arm:" + strings.ToLower(rid) + "|lobby", "endpoint:https://chat.webpubsub.azure.com|lobby"},
		},
		"a connection string is not keyed before its endpoint is known": {
			hub: secretHub("a", "lobby"),
		},
		"a connection string is keyed by the endpoint in status": {
			hub:  withStatus(secretHub("a", "LOBBY"), "HTTPS://Chat.WebPubSub.Azure.com:443/"),
			want: []string{"endpoint:https://chat.webpubsub.azure.com|lobby"},
		},
		"a connection string is keyed by the endpoint just resolved": {
			hub:  withStatus(secretHub("a", "lobby"), "https://old.webpubsub.azure.com"),
			conn: conn("https://chat.webpubsub.azure.com"),
			want: []string{"endpoint:https://chat.webpubsub.azure.com|lobby"},
		},
		"an embedded source is keyed by its own service": {
			hub:  embeddedHub("chat", "team-a"),
			want: []string{"endpoint:http://chat-pubsub.team-a.svc:7070|chat"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, hubKeys(tc.hub, tc.conn)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func azureHubWithID(ns, hub, rid string) *chatv1.ChatHub {
	h := embeddedHub("chat", ns)
	h.Spec.Hub = hub
	h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: rid}}
	return h
}

func TestStatusOnlyUpdatesDoNotReconcile(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, embeddedHub("quiet", ns))
	waitCondition(t, "quiet", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	// Every reconcile checks the chat server's handshake: its requests count
	// the reconciles.
	server := "quiet." + ns + ".svc:8081" // the internal port of an embedded hub
	var base int64
	eventually(t, 60*time.Second, "the reconciles to settle", func() error {
		before := suite.cluster.requests(server)
		time.Sleep(time.Second)
		if base = suite.cluster.requests(server); base != before {
			return fmt.Errorf("%d reconciles in a second", base-before)
		}
		return nil
	})

	hub, err := getHub("quiet", ns)
	if err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(hub.DeepCopy())
	hub.Status.Conditions = append(hub.Status.Conditions, metav1.Condition{Type: "ExampleAudit", Status: metav1.ConditionTrue,
		Reason: "Audited", Message: "written by someone else", LastTransitionTime: metav1.Now()})
	if err := suite.client.Status().Patch(suite.ctx, hub, patch); err != nil {
		t.Fatal(err)
	}
	consistently(t, 3*time.Second, "a status-only update", func() error {
		if n := suite.cluster.requests(server); n != base {
			return fmt.Errorf("%d reconciles after a status-only update", n-base)
		}
		return nil
	})

	// A label is metadata the reconciler looks at: it reconciles.
	eventually(t, 10*time.Second, "labelling the ChatHub", func() error {
		h, err := getHub("quiet", ns)
		if err != nil {
			return err
		}
		h.Labels = map[string]string{"team": "a"}
		return suite.client.Update(suite.ctx, h)
	})
	eventually(t, 60*time.Second, "a reconcile after a label change", func() error {
		if suite.cluster.requests(server) == base {
			return fmt.Errorf("no reconcile yet")
		}
		return nil
	})
}

func TestLoserWithdrawsOnlyItsOwnHandler(t *testing.T) {
	const ownerURL, loserURL = "http://chat.team-a.svc/eventhandler", "http://chat.team-b.svc/eventhandler"
	other := webpubsub.EventHandlerSettings{URLTemplate: "https://audit.example.com/events", UserEventPattern: "*"}
	tests := map[string]struct {
		registered string // the loser's status.eventHandlerURL
		ownerSpec  string // the owner's spec.eventHandler.url
		want       []string
	}{
		"the handler the loser registered is removed": {
			registered: loserURL, want: []string{ownerURL, other.URLTemplate},
		},
		"a loser that registered nothing changes nothing": {
			want: []string{ownerURL, loserURL, other.URLTemplate},
		},
		"the owner's URL is never removed": {
			registered: "https://chat.example.com/eventhandler", ownerSpec: "https://chat.example.com/eventhandler",
			want: []string{ownerURL, loserURL, other.URLTemplate},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hubName := "withdraw_" + randomHex(4)
			owner := azureHub("chat", "team-a", hubName)
			owner.Spec.EventHandler.URL = tc.ownerSpec
			owner.Status.EventHandlerURL = ownerURL
			loser := azureHub("chat", "team-b", hubName)
			loser.Status.EventHandlerURL = tc.registered
			var handlers []webpubsub.EventHandlerSettings
			for _, u := range []string{ownerURL, loserURL} {
				handlers = append(handlers, webpubsub.EventHandlerSettings{URLTemplate: u, UserEventPattern: "*"})
			}
			handlers = append(handlers, other)
			if err := suite.azure.store.Set(hubName, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: handlers}}); err != nil {
				t.Fatal(err)
			}
			defer suite.azure.store.Delete(hubName)
			src := sourceFor(loser)
			conflict, reg, err := suite.rec.standDownFrom(suite.ctx, loser, owner, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if conflict.reason != chatv1.ReasonHubConflict || !strings.Contains(conflict.message, "team-a/chat") || reg.reason != chatv1.ReasonHubConflict {
				t.Errorf("conflict %+v, registration %+v", conflict, reg)
			}
			if diff := cmp.Diff(tc.want, azureHandlers(hubName)); diff != "" {
				t.Errorf("handlers (-want +got):\n%s", diff)
			}
			// Once the handler is gone, looking again writes nothing and
			// status forgets the URL.
			calls := suite.azure.armCalls.Load()
			done, err := suite.rec.withdraw(suite.ctx, loser, owner, src, nil)
			if err != nil || !done {
				t.Errorf("second withdrawal: done %v, err %v", done, err)
			}
			if tc.registered == "" && suite.azure.armCalls.Load() != calls {
				t.Errorf("a loser that registered nothing called ARM")
			}
			if diff := cmp.Diff(tc.want, azureHandlers(hubName)); diff != "" {
				t.Errorf("handlers after looking again (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnectionStringHubsConflictOnceTheEndpointIsKnown(t *testing.T) {
	host := "conflict-" + randomHex(4) + ".webpubsub.azure.com"
	teamA, teamB := newNamespace(t), newNamespace(t)
	for ns, endpoint := range map[string]string{teamA: "https://" + host, teamB: "https://" + strings.ToUpper(host) + "/"} {
		mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "awps", Namespace: ns},
			Data: map[string][]byte{"connectionString": []byte("Endpoint=" + endpoint + ";AccessKey=" + strings.Repeat("k", 40) + ";Version=1.0;")}})
	}
	hub := func(ns string) *chatv1.ChatHub {
		h := embeddedHub("chat", ns)
		h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps"}}
		return h
	}
	mustCreate(t, hub(teamA))
	created := waitCondition(t, "chat", teamA, chatv1.ConditionConnectionSecretReady, metav1.ConditionTrue, chatv1.ReasonSecretReady).CreationTimestamp
	time.Sleep(time.Until(created.Add(1100 * time.Millisecond)))

	mustCreate(t, hub(teamB))
	got := waitCondition(t, "chat", teamB, chatv1.ConditionReady, metav1.ConditionFalse, chatv1.ReasonHubConflict)
	if msg := findCondition(got, chatv1.ConditionServerAvailable).Message; !strings.Contains(msg, teamA+"/chat") {
		t.Errorf("message %q does not name the owner", msg)
	}
	if c := findCondition(got, chatv1.ConditionConnectionSecretReady); c.Status != metav1.ConditionTrue {
		t.Errorf("the loser's own connection Secret is not kept: %+v", c)
	}
	consistently(t, 2*time.Second, "the loser runs no chat server", func() error {
		var d appsv1.Deployment
		if err := getObj(teamB, "chat", &d); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the loser has a chat server Deployment (err %w)", err)
		}
		return nil
	})
	waitCondition(t, "chat", teamA, chatv1.ConditionServerAvailable, metav1.ConditionFalse, chatv1.ReasonDeploymentProgressing)
}

func TestSpecOrMetadataChanged(t *testing.T) {
	base := func() *chatv1.ChatHub {
		h := embeddedHub("chat", "team-a")
		h.Generation = 1
		h.Finalizers = []string{Finalizer}
		return h
	}
	now := metav1.Now()
	tests := map[string]struct {
		change func(h *chatv1.ChatHub)
		want   bool
	}{
		"a status-only update is dropped": {change: func(h *chatv1.ChatHub) {
			h.Status.Endpoint = "https://x"
			h.ResourceVersion = "2"
		}, want: false},
		"a new generation passes":        {change: func(h *chatv1.ChatHub) { h.Generation = 2 }, want: true},
		"deletion passes":                {change: func(h *chatv1.ChatHub) { h.DeletionTimestamp = &now }, want: true},
		"a removed finalizer passes":     {change: func(h *chatv1.ChatHub) { h.Finalizers = nil }, want: true},
		"a label passes":                 {change: func(h *chatv1.ChatHub) { h.Labels = map[string]string{"a": "b"} }, want: true},
		"an annotation passes":           {change: func(h *chatv1.ChatHub) { h.Annotations = map[string]string{"a": "b"} }, want: true},
		"an unchanged object is dropped": {change: func(*chatv1.ChatHub) {}, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old, updated := base(), base()
			tc.change(updated)
			if got := specOrMetadataChanged().Update(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
