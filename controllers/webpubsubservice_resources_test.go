// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/pubsub/settings"
)

func TestInstanceHubs(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hub := func(name, hubName string, age int, mods ...func(*chatv1.ChatHub)) chatv1.ChatHub {
		h := sharedHub(name, "ns", hubName, "shared")
		h.UID = types.UID("uid-" + name)
		h.CreationTimestamp = metav1.NewTime(t0.Add(-time.Duration(age) * time.Minute))
		for _, m := range mods {
			m(h)
		}
		return *h
	}
	deleting := func(h *chatv1.ChatHub) { h.DeletionTimestamp = &metav1.Time{Time: t0} }
	manual := func(h *chatv1.ChatHub) { h.Spec.EventHandler.Registration = chatv1.RegistrationManual }
	tests := map[string]struct {
		hubs []chatv1.ChatHub
		// want maps each hub name to the ChatHub that owns it.
		want map[string]string
	}{
		"each ChatHub with its own hub holds it": {
			hubs: []chatv1.ChatHub{hub("b", "", 1), hub("a", "", 2)},
			want: map[string]string{"a": "a", "b": "b"},
		},
		"the oldest ChatHub of a hub owns it, names compared case-insensitively": {
			hubs: []chatv1.ChatHub{hub("young", "Lobby", 1), hub("old", "lobby", 5)},
			want: map[string]string{"lobby": "old"},
		},
		"a ChatHub being deleted holds nothing, so the next one takes over": {
			hubs: []chatv1.ChatHub{hub("young", "lobby", 1), hub("old", "lobby", 5, deleting)},
			want: map[string]string{"lobby": "young"},
		},
		"a Manual owner keeps the hub but puts no settings in": {
			hubs: []chatv1.ChatHub{hub("young", "lobby", 1), hub("old", "lobby", 5, manual)},
			want: map[string]string{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := map[string]string{}
			for _, h := range instanceHubs(tc.hubs) {
				got[h.name] = h.owner.Name
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("owners (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInstanceSettingsLoad checks the settings Secret's content against the
// loader of `chathub pubsub --settings-file`.
func TestInstanceSettingsLoad(t *testing.T) {
	a, b := sharedHub("red", "ns", "", "shared"), sharedHub("blue", "ns", "Blue", "shared")
	b.Spec.EventHandler.SystemEvents = []chatv1.SystemEvent{chatv1.SystemEventConnect}
	data, err := buildInstanceSettings(instanceHubs([]chatv1.ChatHub{*a, *b}))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), SecretKeySettings)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	store := settings.NewStore()
	if err := store.LoadFile(file); err != nil {
		t.Fatalf("the PubSub service would not start with these settings: %v", err)
	}
	if diff := cmp.Diff([]string{"Blue", "red"}, store.Hubs()); diff != "" {
		t.Errorf("hubs (-want +got):\n%s", diff)
	}
	hs, _ := store.Get("blue")
	if diff := cmp.Diff(DesiredEventHandler(b), hs.Properties.EventHandlers[0]); diff != "" {
		t.Errorf("handler of Blue (-want +got):\n%s", diff)
	}
}

// The PubSub pods, embedded or a WebPubSubService, are probed on the
// service's own endpoints: /readyz leaves the Service's endpoints as soon
// as the service shuts down, /healthz restarts a hung one.
func TestPubSubContainersProbeHealthAndReadiness(t *testing.T) {
	hub := hubFor(nil)
	svc := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "ns"}}
	for name, d := range map[string]*appsv1.Deployment{
		"embedded":         buildEmbeddedDeployment(hub, hub.Spec.WebPubSub.Embedded, "img", "hash"),
		"WebPubSubService": buildInstanceDeployment(svc, "img", natsAccess{}),
	} {
		t.Run(name, func(t *testing.T) {
			c := d.Spec.Template.Spec.Containers[0]
			for probe, want := range map[*corev1.Probe]string{c.ReadinessProbe: "/readyz", c.LivenessProbe: "/healthz"} {
				if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "http" {
					t.Errorf("probe %+v, want an HTTP GET of %s on port http", probe, want)
				}
			}
			if i := slices.Index(c.Args, "--log-format"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != "json" {
				t.Errorf("args %q, want --log-format json", c.Args)
			}
		})
	}
}

// A WebPubSubService pod keeps serving for a while after it is deleted, so that the REST
// calls that still reach it before every node drops it from the Service are answered, and
// its grace period covers that wait and the service's own shutdown.
func TestInstancePodsServeWhileTheyLeaveTheService(t *testing.T) {
	for _, replicas := range []int32{1, 3} {
		svc := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "ns"}}
		svc.Spec.Replicas = ptr.To(replicas)
		pod := buildInstanceDeployment(svc, "img", natsAccess{}).Spec.Template.Spec
		l := pod.Containers[0].Lifecycle
		if l == nil || l.PreStop == nil || l.PreStop.Sleep == nil || l.PreStop.Sleep.Seconds != instancePreStopSeconds {
			t.Errorf("%d replicas: lifecycle %+v, want a pre-stop sleep of %d s", replicas, l, instancePreStopSeconds)
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || *g < instancePreStopSeconds+10 {
			t.Errorf("%d replicas: grace period %v s, want at least the sleep and the 10 s shutdown", replicas, g)
		}
	}
	hub := hubFor(nil)
	if l := buildEmbeddedDeployment(hub, hub.Spec.WebPubSub.Embedded, "img", "hash").Spec.Template.Spec.Containers[0].Lifecycle; l != nil {
		t.Errorf("the embedded service (one pod, nothing to hand over to) has a lifecycle %+v, want none", l)
	}
}
