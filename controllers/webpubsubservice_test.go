// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// newInstance creates a WebPubSubService.
func newInstance(t *testing.T, name, ns string) *chatv1.WebPubSubService {
	t.Helper()
	svc := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	mustCreate(t, svc)
	return svc
}

// sharedHub is a ChatHub on the WebPubSubService instance.
func sharedHub(name, ns, hub, instance string) *chatv1.ChatHub {
	return &chatv1.ChatHub{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: chatv1.ChatHubSpec{Hub: hub, WebPubSub: chatv1.WebPubSubSource{
			ServiceRef: &chatv1.ServiceReference{Name: instance}}},
	}
}

// settingsHubs is the hubs and handler URLs of the instance's settings Secret.
func settingsHubs(ns, instance string) (map[string][]string, error) {
	var s corev1.Secret
	if err := getObj(ns, InstanceSettingsSecretName(instance), &s); err != nil {
		return nil, err
	}
	var f struct {
		Hubs map[string]webpubsub.HubProperties `json:"hubs"`
	}
	if err := json.Unmarshal(s.Data[SecretKeySettings], &f); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for hub, p := range f.Hubs {
		for _, h := range p.EventHandlers {
			out[hub] = append(out[hub], h.URLTemplate)
		}
	}
	return out, nil
}

func TestInstanceGetsItsObjects(t *testing.T) {
	ns := newNamespace(t)
	svc := newInstance(t, "shared", ns)

	var keys corev1.Secret
	eventually(t, 30*time.Second, "keys Secret", func() error { return getObj(ns, "shared-keys", &keys) })
	primary, secondary := string(keys.Data[SecretKeyPrimaryKey]), string(keys.Data[SecretKeySecondaryKey])
	if len(primary) < 32 || len(secondary) < 32 || primary == secondary {
		t.Fatalf("keys Secret holds %d and %d byte keys (equal: %v), want two different generated keys", len(primary), len(secondary), primary == secondary)
	}
	var d appsv1.Deployment
	eventually(t, 30*time.Second, "Deployment", func() error { return getObj(ns, "shared", &d) })
	wantArgs := []string{"pubsub", "--listen", ":7070", "--log-format", "json", "--endpoint", "http://shared." + ns + ".svc:7070",
		"--access-key-file", "/etc/chathub/keys/primaryKey", "--access-key-file", "/etc/chathub/keys/secondaryKey",
		"--settings-file", "/etc/chathub/settings/settings.json"}
	c := d.Spec.Template.Spec.Containers[0]
	if diff := cmp.Diff(wantArgs, c.Args); diff != "" {
		t.Errorf("PubSub service args (-want +got):\n%s", diff)
	}
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("Deployment runs %d replicas with strategy %s, want 1 and Recreate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	var mounted []string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			mounted = append(mounted, v.Secret.SecretName)
		}
	}
	if diff := cmp.Diff([]string{"shared-keys", "shared-settings"}, mounted); diff != "" {
		t.Errorf("mounted Secrets (-want +got):\n%s", diff)
	}
	if c.Resources.Requests.Memory().IsZero() {
		t.Errorf("the PubSub service has no memory request")
	}
	var s corev1.Service
	eventually(t, 30*time.Second, "Service", func() error { return getObj(ns, "shared", &s) })
	if s.Spec.Ports[0].Port != 7070 {
		t.Errorf("Service port %d, want 7070", s.Spec.Ports[0].Port)
	}
	eventually(t, 30*time.Second, "empty settings", func() error {
		hubs, err := settingsHubs(ns, "shared")
		if err != nil || len(hubs) != 0 {
			return fmt.Errorf("settings hold %v, want no hubs: %w", hubs, err)
		}
		return nil
	})

	markAvailable(t, ns, "shared")
	eventually(t, 30*time.Second, "Ready", func() error {
		if err := getObj(ns, "shared", svc); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(svc.Status.Conditions, chatv1.ConditionReady) ||
			svc.Status.Endpoint != "http://shared."+ns+".svc:7070" || svc.Status.KeysSecretName != "shared-keys" ||
			svc.Status.ActiveKey != chatv1.AccessKeyPrimary {
			return fmt.Errorf("status is %+v", svc.Status)
		}
		return nil
	})

	// Keys are never overwritten: the reconcile that puts back a deleted
	// settings Secret keeps them.
	var settingsSecret corev1.Secret
	if err := getObj(ns, "shared-settings", &settingsSecret); err != nil {
		t.Fatal(err)
	}
	if err := suite.client.Delete(suite.ctx, &settingsSecret); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the settings Secret back", func() error {
		var sec corev1.Secret
		if err := getObj(ns, "shared-settings", &sec); err != nil {
			return err
		}
		if sec.UID == settingsSecret.UID {
			return fmt.Errorf("still the old Secret")
		}
		return nil
	})
	if err := getObj(ns, "shared-keys", &keys); err != nil {
		t.Fatal(err)
	}
	if string(keys.Data[SecretKeyPrimaryKey]) != primary || string(keys.Data[SecretKeySecondaryKey]) != secondary {
		t.Errorf("the keys changed")
	}
}

func TestChatHubsShareOneInstance(t *testing.T) {
	ns := newNamespace(t)
	newInstance(t, "shared", ns)
	names := []string{"red", "green", "blue"}
	for _, n := range names {
		mustCreate(t, sharedHub(n, ns, "", "shared"))
	}
	for _, n := range names {
		hub := waitCondition(t, n, ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
		if hub.Status.Source != chatv1.SourceServiceRef || hub.Status.Endpoint != "http://shared."+ns+".svc:7070" {
			t.Errorf("%s: source %s endpoint %s, want ServiceRef on the instance", n, hub.Status.Source, hub.Status.Endpoint)
		}
		var d appsv1.Deployment
		if err := getObj(ns, n, &d); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--proxy-client") {
			t.Errorf("%s: chat server args %v lack --proxy-client", n, d.Spec.Template.Spec.Containers[0].Args)
		}
		var pubsub appsv1.Deployment
		if err := getObj(ns, n+"-pubsub", &pubsub); err == nil {
			t.Errorf("%s: a PubSub service of its own was created", n)
		}
	}
	store := suite.cluster.instanceStore(ns, "shared")
	if store == nil {
		t.Fatal("nothing dialled the instance")
	}
	if diff := cmp.Diff([]string{"blue", "green", "red"}, store.Hubs()); diff != "" {
		t.Errorf("hubs registered at the instance (-want +got):\n%s", diff)
	}
	wantSettings := func(hubs ...string) func() error {
		return func() error {
			got, err := settingsHubs(ns, "shared")
			if err != nil {
				return err
			}
			want := map[string][]string{}
			for _, h := range hubs {
				want[h] = []string{"http://" + h + "." + ns + ".svc:8081/eventhandler"}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("settings Secret (-want +got):\n%s", diff)
			}
			var svc chatv1.WebPubSubService
			if err := getObj(ns, "shared", &svc); err != nil {
				return err
			}
			if int(svc.Status.Hubs) != len(hubs) {
				return fmt.Errorf("status.hubs is %d, want %d", svc.Status.Hubs, len(hubs))
			}
			return nil
		}
	}
	eventually(t, 30*time.Second, "settings of three hubs", wantSettings("blue", "green", "red"))

	green, _ := getHub("green", ns)
	if err := suite.client.Delete(suite.ctx, green); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "settings without green", wantSettings("blue", "red"))
	eventually(t, 30*time.Second, "green unregistered", func() error {
		if _, ok := store.Get("green"); ok {
			return fmt.Errorf("hub green still has settings at the instance")
		}
		return nil
	})
}

func TestSameHubOnOneInstanceConflicts(t *testing.T) {
	ns := newNamespace(t)
	newInstance(t, "shared", ns)
	mustCreate(t, sharedHub("first", ns, "Lobby", "shared"))
	waitCondition(t, "first", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	mustCreate(t, sharedHub("second", ns, "lobby", "shared"))
	// Created within the same second, the UID decides who is older.
	first, _ := getHub("first", ns)
	second, _ := getHub("second", ns)
	owner, loser := first, second
	if older(second, first) {
		owner, loser = second, first
	}
	got := waitCondition(t, loser.Name, ns, chatv1.ConditionReady, metav1.ConditionFalse, chatv1.ReasonHubConflict)
	if msg := findCondition(got, chatv1.ConditionReady).Message; !strings.Contains(msg, ns+"/"+owner.Name) {
		t.Errorf("conflict message %q does not name the owner %s/%s", msg, ns, owner.Name)
	}
	eventually(t, 30*time.Second, "settings of the owner only", func() error {
		hubs, err := settingsHubs(ns, "shared")
		if err != nil {
			return err
		}
		want := map[string][]string{owner.Spec.Hub: {"http://" + owner.Name + "." + ns + ".svc:8081/eventhandler"}}
		if diff := cmp.Diff(want, hubs); diff != "" {
			return fmt.Errorf("settings (-want +got):\n%s", diff)
		}
		return nil
	})
	eventually(t, 30*time.Second, "the owner's handler at the instance", func() error {
		hs, ok := suite.cluster.instanceStore(ns, "shared").Get("lobby")
		if !ok || len(hs.Properties.EventHandlers) != 1 || hs.Properties.EventHandlers[0].URLTemplate != "http://"+owner.Name+"."+ns+".svc:8081/eventhandler" {
			return fmt.Errorf("hub settings at the instance: %+v", hs)
		}
		return nil
	})
}

func TestServiceRefIsOneOfTheSources(t *testing.T) {
	ns := newNamespace(t)
	both := sharedHub("both", ns, "", "shared")
	both.Spec.WebPubSub.Embedded = &chatv1.EmbeddedSource{}
	if err := suite.client.Create(suite.ctx, both); err == nil || !strings.Contains(err.Error(), "exactly one of") {
		t.Errorf("a ChatHub with embedded and serviceRef: got %v, want the one-of rule", err)
	}
	hub := sharedHub("moving", ns, "", "shared")
	mustCreate(t, hub)
	err := updateHub("moving", ns, func(h *chatv1.ChatHub) {
		h.Spec.WebPubSub = chatv1.WebPubSubSource{Embedded: &chatv1.EmbeddedSource{}}
	})
	if err == nil || !strings.Contains(err.Error(), "cannot be changed") {
		t.Errorf("changing serviceRef to embedded: got %v, want the immutability rule", err)
	}
	err = updateHub("moving", ns, func(h *chatv1.ChatHub) { h.Spec.WebPubSub.ServiceRef.Name = "other" })
	if err == nil || !strings.Contains(err.Error(), "cannot be changed") {
		t.Errorf("changing serviceRef.name: got %v, want the immutability rule", err)
	}
	missing := waitCondition(t, "moving", ns, chatv1.ConditionConnectionSecretReady, metav1.ConditionFalse, chatv1.ReasonServiceNotFound)
	if msg := findCondition(missing, chatv1.ConditionConnectionSecretReady).Message; !strings.Contains(msg, `"shared"`) {
		t.Errorf("message %q does not name the missing instance", msg)
	}
}

func TestKeyRotationMovesChatServersFirst(t *testing.T) {
	ns := newNamespace(t)
	svc := newInstance(t, "shared", ns)
	mustCreate(t, sharedHub("chat", ns, "", "shared"))
	waitCondition(t, "chat", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	var keys corev1.Secret
	if err := getObj(ns, "shared-keys", &keys); err != nil {
		t.Fatal(err)
	}
	primary, secondary := string(keys.Data[SecretKeyPrimaryKey]), string(keys.Data[SecretKeySecondaryKey])
	connectionKey := func() (string, map[string][]byte) {
		var s corev1.Secret
		if err := getObj(ns, "chat-connection", &s); err != nil {
			t.Fatal(err)
		}
		return string(s.Data[SecretKeyAccessKey]), s.Data
	}
	if k, _ := connectionKey(); k != primary {
		t.Fatalf("the ChatHub does not use the primary key before a rotation")
	}
	markAvailable(t, ns, "chat")

	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"primary"}}}`, chatv1.RotateKeyAnnotation)
	if err := suite.client.Patch(suite.ctx, svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	// 1. The chat server moves to the secondary key and rolls.
	var data map[string][]byte
	eventually(t, 30*time.Second, "the connection Secret on the secondary key", func() error {
		var k string
		if k, data = connectionKey(); k != secondary {
			return fmt.Errorf("the connection Secret does not hold the secondary key yet")
		}
		return nil
	})
	eventually(t, 30*time.Second, "the chat server rolling", func() error {
		var d appsv1.Deployment
		if err := getObj(ns, "chat", &d); err != nil {
			return err
		}
		if d.Spec.Template.Annotations[ConnectionHashAnnotation] != ConnectionHash(data) {
			return fmt.Errorf("the pod template has not the new connection hash")
		}
		return nil
	})
	// 2. Until it is rolled out, the primary key stays: pods still sign with it.
	if err := getObj(ns, "shared-keys", &keys); err != nil {
		t.Fatal(err)
	}
	if string(keys.Data[SecretKeyPrimaryKey]) != primary {
		t.Fatalf("the primary key was regenerated before the chat server was available with the secondary key")
	}
	if err := getObj(ns, "shared", svc); err != nil {
		t.Fatal(err)
	}
	if svc.Status.ActiveKey != chatv1.AccessKeySecondary || svc.Annotations[chatv1.RotateKeyAnnotation] == "" {
		t.Fatalf("mid-rotation: active key %q, annotation %q; want Secondary and still there", svc.Status.ActiveKey, svc.Annotations[chatv1.RotateKeyAnnotation])
	}
	// 3. Once it is, the primary key is regenerated and the annotation goes.
	markAvailable(t, ns, "chat")
	eventually(t, 30*time.Second, "the rotation done", func() error {
		if err := getObj(ns, "shared", svc); err != nil {
			return err
		}
		if _, ok := svc.Annotations[chatv1.RotateKeyAnnotation]; ok {
			return fmt.Errorf("annotation still there")
		}
		if r := svc.Status.LastKeyRotation; r == nil || r.Key != chatv1.AccessKeyPrimary {
			return fmt.Errorf("status.lastKeyRotation is %+v", r)
		}
		return nil
	})
	if err := getObj(ns, "shared-keys", &keys); err != nil {
		t.Fatal(err)
	}
	if p := string(keys.Data[SecretKeyPrimaryKey]); p == primary || len(p) < 32 {
		t.Errorf("the primary key was not regenerated")
	}
	if string(keys.Data[SecretKeySecondaryKey]) != secondary {
		t.Errorf("the secondary key, in use, changed")
	}
	if k, _ := connectionKey(); k != secondary {
		t.Errorf("the ChatHub left the secondary key")
	}
	waitCondition(t, "chat", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
}

// TestRestartedInstanceGetsItsHandlersBack plays a restart of the
// instance's pod that lost a hub's settings: once the pod is available
// again, the ChatHub registers its handler at once (the suite's periodic
// re-check is a minute, longer than the wait).
func TestRestartedInstanceGetsItsHandlersBack(t *testing.T) {
	ns := newNamespace(t)
	newInstance(t, "shared", ns)
	markAvailable(t, ns, "shared")
	mustCreate(t, sharedHub("chat", ns, "", "shared"))
	waitCondition(t, "chat", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	store := suite.cluster.instanceStore(ns, "shared")
	instanceAvailable := func(want bool) func() error {
		return func() error {
			var svc chatv1.WebPubSubService
			if err := getObj(ns, "shared", &svc); err != nil {
				return err
			}
			if got := meta.IsStatusConditionTrue(svc.Status.Conditions, chatv1.ConditionAvailable); got != want {
				return fmt.Errorf("Available is %v", got)
			}
			return nil
		}
	}
	eventually(t, 30*time.Second, "the instance available", instanceAvailable(true))

	var d appsv1.Deployment
	if err := getObj(ns, "shared", &d); err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1}
	if err := suite.client.Status().Update(suite.ctx, &d); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the instance unavailable", instanceAvailable(false))
	store.Delete("chat")
	markAvailable(t, ns, "shared")
	eventually(t, 30*time.Second, "the handler back at the instance", func() error {
		if _, ok := store.Get("chat"); !ok {
			return fmt.Errorf("hub chat has no settings at the instance")
		}
		return nil
	})
}

// TestChatHubLetsGoWhenItsInstanceIsGone: a ChatHub deleted after its
// instance (as when their namespace is deleted) has no handler left to
// remove; it lets go at once with a Normal event, not after DeleteTimeout
// with a Warning asking to remove a handler by hand from a service that no
// longer exists.
func TestChatHubLetsGoWhenItsInstanceIsGone(t *testing.T) {
	ns := newNamespace(t)
	svc := newInstance(t, "gone", ns)
	mustCreate(t, sharedHub("orphan", ns, "", "gone"))
	waitCondition(t, "orphan", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	if err := suite.client.Delete(suite.ctx, svc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the instance to be gone", func() error {
		var s chatv1.WebPubSubService
		if err := getObj(ns, "gone", &s); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%w)", err)
		}
		return nil
	})
	hub, err := getHub("orphan", ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.client.Delete(suite.ctx, hub); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "orphan", ns)
	ev := waitEvent(t, "orphan", ns, chatv1.ReasonUnregistered, corev1.EventTypeNormal)
	if !strings.Contains(ev.Note, "is gone or being deleted") {
		t.Errorf("event %q, want the instance named as gone", ev.Note)
	}
	var list eventsv1.EventList
	if err := suite.client.List(suite.ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Items {
		if e.Regarding.Name == "orphan" && e.Reason == chatv1.ReasonUnregisterFailed {
			t.Errorf("unexpected %s event: %s", e.Reason, e.Note)
		}
	}
}
