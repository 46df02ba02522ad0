// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
)

func TestBuildEventHandlerPolicy(t *testing.T) {
	tcp := corev1.ProtocolTCP
	policyFrom := func(pubSub map[string]string) *networkingv1.NetworkPolicy {
		chat := map[string]string{"app.kubernetes.io/name": "chathub", "app.kubernetes.io/instance": "my-chat", "app.kubernetes.io/component": "chatserver"}
		return &networkingv1.NetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "my-chat-eventhandler", Namespace: "team-a",
				Labels: map[string]string{"app.kubernetes.io/name": "chathub", "app.kubernetes.io/instance": "my-chat",
					"app.kubernetes.io/component": "chatserver", "app.kubernetes.io/managed-by": "chathub-operator"}},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: chat},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{
					{Ports: []networkingv1.NetworkPolicyPort{
						{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(8080))},
						{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(9090))},
					}},
					{
						Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(8081))}},
						From: []networkingv1.NetworkPolicyPeer{
							{PodSelector: &metav1.LabelSelector{MatchLabels: pubSub}},
							{NamespaceSelector: &metav1.LabelSelector{},
								PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "chathub-operator"}}},
						},
					},
				},
			},
		}
	}
	tests := map[string]struct {
		hub  *chatv1.ChatHub
		want *networkingv1.NetworkPolicy
	}{
		"an embedded hub lets only its PubSub service's pods (and the operator) reach the internal port": {
			hub: hubFor(nil),
			want: policyFrom(map[string]string{"app.kubernetes.io/name": "chathub", "app.kubernetes.io/instance": "my-chat",
				"app.kubernetes.io/component": "pubsub"}),
		},
		"a WebPubSubService reference lets the instance's pods in": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ServiceRef: &chatv1.ServiceReference{Name: "shared"}}
			}),
			want: policyFrom(map[string]string{"app.kubernetes.io/name": "chathub", "app.kubernetes.io/instance": "shared",
				"app.kubernetes.io/component": componentInstance}),
		},
		"an Azure hub has none": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
			}),
		},
		"a connection string hub has none": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "s"}}
			}),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, buildEventHandlerPolicy(tc.hub)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// portNames are the names of a container's or Service's ports.
func containerPortNames(ports []corev1.ContainerPort) []string {
	var names []string
	for _, p := range ports {
		names = append(names, fmt.Sprintf("%s:%d", p.Name, p.ContainerPort))
	}
	return names
}

func servicePortNames(ports []corev1.ServicePort) []string {
	var names []string
	for _, p := range ports {
		names = append(names, fmt.Sprintf("%s:%d->%s", p.Name, p.Port, p.TargetPort.String()))
	}
	return names
}

func TestEmbeddedHubKeepsItsEventHandlerInternal(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, embeddedHub("guarded", ns))
	hub := waitCondition(t, "guarded", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)

	internalURL := "http://guarded." + ns + ".svc:8081/eventhandler"
	if hub.Status.EventHandlerURL != internalURL {
		t.Errorf("status.eventHandlerURL %q, want %q", hub.Status.EventHandlerURL, internalURL)
	}
	store := suite.cluster.store(hub)
	if store == nil {
		t.Fatal("the PubSub service was never called")
	}
	settings, ok := store.Get(EffectiveHub(hub))
	if !ok {
		t.Fatal("no hub settings at the PubSub service")
	}
	var urls []string
	for _, h := range settings.Properties.EventHandlers {
		urls = append(urls, h.URLTemplate)
	}
	if !slices.Equal(urls, []string{internalURL}) {
		t.Errorf("handlers registered at the PubSub service %q, want %q", urls, internalURL)
	}
	if suite.cluster.requests("guarded."+ns+".svc:8081") == 0 {
		t.Error("the handshake was not checked on the internal port")
	}

	var server appsv1.Deployment
	var svc corev1.Service
	var policy networkingv1.NetworkPolicy
	if err := getObj(ns, "guarded", &server); err != nil {
		t.Fatal(err)
	}
	if err := getObj(ns, "guarded", &svc); err != nil {
		t.Fatal(err)
	}
	if err := getObj(ns, "guarded-eventhandler", &policy); err != nil {
		t.Fatalf("getting the NetworkPolicy: %v", err)
	}
	checkOwned(t, &policy, hub)
	c := server.Spec.Template.Spec.Containers[0]
	if got := strings.Join(c.Args, " "); !strings.Contains(got, "--internal-listen :8081") {
		t.Errorf("chat server args %q lack --internal-listen :8081", got)
	}
	if diff := cmp.Diff([]string{"http:8080", "metrics:9090", "internal:8081"}, containerPortNames(c.Ports)); diff != "" {
		t.Errorf("container ports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"http:80->http", "internal:8081->internal"}, servicePortNames(svc.Spec.Ports)); diff != "" {
		t.Errorf("Service ports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(buildEventHandlerPolicy(hub).Spec, policy.Spec); diff != "" {
		t.Errorf("NetworkPolicy spec (-want +got):\n%s", diff)
	}

	// A change to the policy is put back.
	policy.Spec.Ingress = nil
	if err := suite.client.Update(t.Context(), &policy); err != nil {
		t.Fatalf("updating the NetworkPolicy: %v", err)
	}
	eventually(t, 30*time.Second, "the NetworkPolicy to be restored", func() error {
		var got networkingv1.NetworkPolicy
		if err := getObj(ns, "guarded-eventhandler", &got); err != nil {
			return err
		}
		if len(got.Spec.Ingress) != 2 {
			return fmt.Errorf("ingress rules %+v", got.Spec.Ingress)
		}
		return nil
	})
}

func TestAzureHubHasNoInternalEventHandler(t *testing.T) {
	ns := newNamespace(t)
	hubName := "open_" + strings.ReplaceAll(ns, "-", "_")
	mustCreate(t, azureHub("open", ns, hubName))
	hub := waitCondition(t, "open", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	if want := "http://open." + ns + ".svc/eventhandler"; hub.Status.EventHandlerURL != want {
		t.Errorf("status.eventHandlerURL %q, want %q", hub.Status.EventHandlerURL, want)
	}
	var server appsv1.Deployment
	var svc corev1.Service
	if err := getObj(ns, "open", &server); err != nil {
		t.Fatal(err)
	}
	if err := getObj(ns, "open", &svc); err != nil {
		t.Fatal(err)
	}
	c := server.Spec.Template.Spec.Containers[0]
	if slices.Contains(c.Args, "--internal-listen") {
		t.Errorf("chat server args %q have --internal-listen", c.Args)
	}
	if diff := cmp.Diff([]string{"http:8080", "metrics:9090"}, containerPortNames(c.Ports)); diff != "" {
		t.Errorf("container ports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"http:80->http"}, servicePortNames(svc.Spec.Ports)); diff != "" {
		t.Errorf("Service ports (-want +got):\n%s", diff)
	}
	var policy networkingv1.NetworkPolicy
	if err := getObj(ns, "open-eventhandler", &policy); !apierrors.IsNotFound(err) {
		t.Errorf("getting a NetworkPolicy of an Azure hub: %v, want NotFound", err)
	}
}
