// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

func reconcileRequest(hub *chatv1.ChatHub) ctrl.Request {
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(hub)}
}

// waitHandlers waits until the store holds exactly want as the hub's handlers.
func waitHandlers(t *testing.T, store func() *settings.Store, hub string, want []webpubsub.EventHandlerSettings) {
	t.Helper()
	eventually(t, 60*time.Second, "the hub settings of "+hub, func() error {
		s := store()
		if s == nil {
			return fmt.Errorf("the service has not been reached yet")
		}
		got, ok := s.Get(hub)
		if !ok {
			if want == nil {
				return nil
			}
			return fmt.Errorf("hub %s has no settings", hub)
		}
		if diff := cmp.Diff(want, got.Properties.EventHandlers); diff != "" {
			return fmt.Errorf("handlers (-want +got):\n%s", diff)
		}
		return nil
	})
}

// waitGone waits until the ChatHub no longer exists.
func waitGone(t *testing.T, name, ns string) {
	t.Helper()
	eventually(t, 60*time.Second, "the ChatHub to be deleted", func() error {
		_, err := getHub(name, ns)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (err %w)", err)
	})
}

func TestEmbeddedRegistration(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("town-square", ns)
	mustCreate(t, hub)
	hub = waitCondition(t, "town-square", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	if hub.Status.Hub != "town_square" {
		t.Errorf("status.hub %q, want the name with '-' replaced by '_'", hub.Status.Hub)
	}
	store := func() *settings.Store { return suite.cluster.store(hub) }
	url := "http://town-square." + ns + ".svc:8081/eventhandler"
	waitHandlers(t, store, "town_square", []webpubsub.EventHandlerSettings{
		{URLTemplate: url, UserEventPattern: "*", SystemEvents: []string{"connected", "disconnected"}},
	})
	ev := waitEvent(t, "town-square", ns, chatv1.ReasonRegistered, corev1.EventTypeNormal)
	if !strings.Contains(ev.Note, url) {
		t.Errorf("event note %q does not name the URL", ev.Note)
	}

	// A spec change updates the registration.
	eventually(t, 10*time.Second, "updating the event handler spec", func() error {
		h, err := getHub("town-square", ns)
		if err != nil {
			return err
		}
		h.Spec.EventHandler.URL = "https://chat.example.com/api/{event}"
		h.Spec.EventHandler.UserEventPattern = "message,typing"
		h.Spec.EventHandler.SystemEvents = []chatv1.SystemEvent{"connect", "connected", "disconnected"}
		return suite.client.Update(suite.ctx, h)
	})
	waitHandlers(t, store, "town_square", []webpubsub.EventHandlerSettings{
		{URLTemplate: "https://chat.example.com/api/{event}", UserEventPattern: "message,typing", SystemEvents: []string{"connect", "connected", "disconnected"}},
	})
	waitCondition(t, "town-square", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)

	// Settings lost by the service (a restarted pod) are written again.
	store().Delete("town_square")
	if _, err := suite.rec.Reconcile(suite.ctx, reconcileRequest(hub)); err != nil {
		t.Fatal(err)
	}
	waitHandlers(t, store, "town_square", []webpubsub.EventHandlerSettings{
		{URLTemplate: "https://chat.example.com/api/{event}", UserEventPattern: "message,typing", SystemEvents: []string{"connect", "connected", "disconnected"}},
	})

	// Deletion removes the handler before the finalizer goes.
	if err := suite.client.Delete(suite.ctx, hub); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "town-square", ns)
	if _, ok := store().Get("town_square"); ok {
		t.Errorf("the hub settings are still registered after deletion")
	}
	waitEvent(t, "town-square", ns, chatv1.ReasonUnregistered, corev1.EventTypeNormal)
}

func TestAzureRegistration(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("support", ns)
	hub.Spec.Hub = "support_" + strings.ReplaceAll(ns, "-", "_")
	hub.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{
		ResourceID: suite.azure.ResourceID(), ManagementEndpoint: suite.azure.arm.URL,
	}}
	hub.Spec.Ingress = &chatv1.IngressSpec{Host: "support.example.com"}
	// Another handler someone added by hand is kept.
	other := webpubsub.EventHandlerSettings{URLTemplate: "https://audit.example.com/events", UserEventPattern: "*"}
	if err := suite.azure.store.Set(hub.Spec.Hub, &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{other}}}); err != nil {
		t.Fatal(err)
	}
	before := suite.azure.armCalls.Load()
	mustCreate(t, hub)
	hub = waitCondition(t, "support", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	if suite.azure.armCalls.Load() == before {
		t.Errorf("no ARM request carried the Entra token")
	}
	store := func() *settings.Store { return suite.azure.store }
	mine := webpubsub.EventHandlerSettings{URLTemplate: "http://support.example.com/eventhandler", UserEventPattern: "*", SystemEvents: []string{"connected", "disconnected"}}
	waitHandlers(t, store, hub.Spec.Hub, []webpubsub.EventHandlerSettings{mine, other})

	// The connection Secret holds the listKeys connection string.
	var s corev1.Secret
	if err := getObj(ns, "support-connection", &s); err != nil {
		t.Fatal(err)
	}
	cs, err := webpubsub.ParseConnectionString(string(s.Data[SecretKeyConnectionString]))
	if err != nil || cs.AccessKey != suite.azure.accessKey || cs.Endpoint.String() != suite.azure.arm.URL {
		t.Fatalf("connection Secret does not hold the listKeys connection string (err %v, endpoint %v)", err, cs)
	}
	if hub.Status.Endpoint != suite.azure.arm.URL {
		t.Errorf("status.endpoint %q, want %q", hub.Status.Endpoint, suite.azure.arm.URL)
	}
	waitEvent(t, "support", ns, chatv1.ReasonRegistered, corev1.EventTypeNormal)

	// Deletion removes our handler and keeps the other one.
	if err := suite.client.Delete(suite.ctx, hub); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "support", ns)
	waitHandlers(t, store, hub.Spec.Hub, []webpubsub.EventHandlerSettings{other})
}

func TestUnreachableServiceIsRetried(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("flaky", ns)
	addr := EmbeddedEndpoint(&chatv1.ChatHub{ObjectMeta: metav1.ObjectMeta{Name: "flaky", Namespace: ns}}).Host
	suite.cluster.setDown(addr, true)
	mustCreate(t, hub)
	got := waitCondition(t, "flaky", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationFailed)
	cond := findCondition(got, chatv1.ConditionEventHandlerRegistered)
	if !strings.Contains(cond.Message, "connection refused") {
		t.Errorf("message %q does not say why", cond.Message)
	}
	waitEvent(t, "flaky", ns, chatv1.ReasonRegistrationFailed, corev1.EventTypeWarning)
	suite.cluster.setDown(addr, false)
	// Nothing about the ChatHub changes: only the backoff brings it back.
	waitCondition(t, "flaky", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
}

func TestHandshakeFailureBlocksRegistration(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("shy", ns)
	suite.cluster.setDown("shy."+ns+".svc:8081", true)
	mustCreate(t, hub)
	got := waitCondition(t, "shy", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonHandshakeFailed)
	if msg := findCondition(got, chatv1.ConditionEventHandlerRegistered).Message; !strings.Contains(msg, "abuse-protection handshake") {
		t.Errorf("message %q", msg)
	}
	if s := suite.cluster.store(got); s != nil {
		if _, ok := s.Get("shy"); ok {
			t.Errorf("the handler was registered although the handshake failed")
		}
	}
	suite.cluster.setDown("shy."+ns+".svc:8081", false)
	waitCondition(t, "shy", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
}

func TestDeletionGivesUpOnAnUnreachableService(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("stuck", ns)
	hub.Spec.Hub = "stuck_" + strings.ReplaceAll(ns, "-", "_")
	hub.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{
		ResourceID: suite.azure.ResourceID(), ManagementEndpoint: suite.azure.arm.URL,
	}}
	mustCreate(t, hub)
	hub = waitCondition(t, "stuck", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	suite.azure.down.Store(true)
	defer suite.azure.down.Store(false)
	if err := suite.client.Delete(suite.ctx, hub); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "stuck", ns)
	ev := waitEvent(t, "stuck", ns, chatv1.ReasonUnregisterFailed, corev1.EventTypeWarning)
	if !strings.Contains(ev.Note, "remove it by hand") || !strings.Contains(ev.Note, hub.Spec.Hub) {
		t.Errorf("event note %q does not say what was left behind", ev.Note)
	}
	if _, ok := suite.azure.store.Get(hub.Spec.Hub); !ok {
		t.Errorf("the settings vanished although the service was down")
	}
}

func TestManyHubsReconcileIndependently(t *testing.T) {
	const namespaces, perNamespace = 5, 10
	var nss []string
	for range namespaces {
		nss = append(nss, newNamespace(t))
	}
	// One broken hub per namespace: its PubSub service never answers.
	for _, ns := range nss {
		suite.cluster.setDown("broken-pubsub."+ns+".svc:7070", true)
		mustCreate(t, embeddedHub("broken", ns))
	}
	var wg sync.WaitGroup
	for _, ns := range nss {
		for i := range perNamespace {
			wg.Go(func() { mustCreate(t, embeddedHub(fmt.Sprintf("room-%d", i), ns)) })
		}
	}
	wg.Wait()
	for _, ns := range nss {
		for i := range perNamespace {
			name := fmt.Sprintf("room-%d", i)
			h := waitCondition(t, name, ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
			s := suite.cluster.store(h)
			if got, ok := s.Get(EffectiveHub(h)); !ok || got.Properties.EventHandlers[0].URLTemplate != "http://"+name+"."+ns+".svc:8081/eventhandler" {
				t.Errorf("%s/%s: settings %+v", ns, name, got)
			}
		}
		waitCondition(t, "broken", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationFailed)
	}
	// Every hub has its own key.
	keys := map[string]bool{}
	for _, ns := range nss {
		var list corev1.SecretList
		if err := suite.client.List(suite.ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for _, s := range list.Items {
			keys[string(s.Data[SecretKeyAccessKey])] = true
		}
	}
	if len(keys) != namespaces*(perNamespace+1) || slices.Contains(keysOf(keys), "") {
		t.Errorf("%d distinct keys for %d hubs", len(keys), namespaces*(perNamespace+1))
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
