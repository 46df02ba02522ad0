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
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// foreignService is a Service "api" someone else made.
func foreignService(ns string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: map[string]string{"app": "legacy"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "legacy"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
	}
}

// foreignDeployment is a Deployment "api" someone else made.
func foreignDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "legacy"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "example.com/legacy:1"}}},
			},
		},
	}
}

func TestObjectsNotOwnedAreLeftAlone(t *testing.T) {
	tests := map[string]struct {
		objects  func(ns string) []client.Object
		wantName string
		wantCond string // the condition the object blocks
	}{
		"a Service the ChatHub did not create": {
			objects:  func(ns string) []client.Object { return []client.Object{foreignService(ns)} },
			wantName: "Service api", wantCond: chatv1.ConditionServerAvailable,
		},
		"a Deployment (and a Service) the ChatHub did not create": {
			objects: func(ns string) []client.Object {
				return []client.Object{foreignDeployment(ns), foreignService(ns)}
			},
			wantName: "Deployment api", wantCond: chatv1.ConditionServerAvailable,
		},
		"a NetworkPolicy the ChatHub did not create": {
			objects: func(ns string) []client.Object {
				return []client.Object{&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "api-eventhandler", Namespace: ns},
					Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}}
			},
			wantName: "NetworkPolicy api-eventhandler", wantCond: chatv1.ConditionServerAvailable,
		},
		"a connection Secret the ChatHub did not create": {
			objects: func(ns string) []client.Object {
				return []client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api-connection", Namespace: ns},
					Data: map[string][]byte{"connectionString": []byte("someone else's")}}}
			},
			wantName: "Secret api-connection", wantCond: chatv1.ConditionConnectionSecretReady,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			objs := tc.objects(ns)
			for _, o := range objs {
				mustCreate(t, o)
			}
			mustCreate(t, embeddedHub("api", ns))
			got := waitCondition(t, "api", ns, tc.wantCond, metav1.ConditionFalse, chatv1.ReasonObjectNotOwned)
			if msg := findCondition(got, tc.wantCond).Message; !strings.HasPrefix(msg, tc.wantName+" exists and is not controlled by this ChatHub") {
				t.Errorf("message %q does not name %s", msg, tc.wantName)
			}
			waitCondition(t, "api", ns, chatv1.ConditionReady, metav1.ConditionFalse, chatv1.ReasonObjectNotOwned)
			if c := findCondition(got, chatv1.ConditionEventHandlerRegistered); c.Status != metav1.ConditionFalse {
				t.Errorf("registered although an object is not the ChatHub's: %+v", c)
			}
			ev := waitEvent(t, "api", ns, chatv1.ReasonObjectNotOwned, corev1.EventTypeWarning)
			if !strings.Contains(ev.Note, tc.wantName) {
				t.Errorf("event note %q does not name %s", ev.Note, tc.wantName)
			}
			// The retries (with backoff) never change the objects.
			consistently(t, 2*time.Second, "the objects stay as they were", func() error {
				for _, o := range objs {
					now := o.DeepCopyObject().(client.Object)
					if err := getObj(ns, o.GetName(), now); err != nil {
						return err
					}
					if now.GetResourceVersion() != o.GetResourceVersion() || len(now.GetOwnerReferences()) != 0 {
						return fmt.Errorf("%T %s changed: resourceVersion %s → %s, owners %v", o, o.GetName(),
							o.GetResourceVersion(), now.GetResourceVersion(), now.GetOwnerReferences())
					}
					switch n := now.(type) {
					case *corev1.Service:
						if diff := cmp.Diff(map[string]string{"app": "legacy"}, n.Spec.Selector); diff != "" {
							return fmt.Errorf("Service selector (-want +got):\n%s", diff)
						}
					case *appsv1.Deployment:
						if diff := cmp.Diff(map[string]string{"app": "legacy"}, n.Spec.Selector.MatchLabels); diff != "" {
							return fmt.Errorf("Deployment selector (-want +got):\n%s", diff)
						}
					case *corev1.Secret:
						if string(n.Data["connectionString"]) != "someone else's" || len(n.Data) != 1 {
							return fmt.Errorf("the Secret's data changed")
						}
					}
				}
				return nil
			})
		})
	}
}

func TestInvalidSpecReachesStatus(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("greedy", ns)
	hub.Spec.Server.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
	}
	mustCreate(t, hub)
	got := waitCondition(t, "greedy", ns, chatv1.ConditionServerAvailable, metav1.ConditionFalse, chatv1.ReasonInvalidSpec)
	msg := findCondition(got, chatv1.ConditionServerAvailable).Message
	// The API server's own message, which names the field and the rule.
	for _, want := range []string{"Deployment greedy", "resources.requests", "must be less than or equal to cpu limit"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	ready := waitCondition(t, "greedy", ns, chatv1.ConditionReady, metav1.ConditionFalse, chatv1.ReasonInvalidSpec)
	if m := findCondition(ready, chatv1.ConditionReady).Message; !strings.Contains(m, "must be less than or equal to cpu limit") {
		t.Errorf("Ready message %q does not say why", m)
	}
	waitEvent(t, "greedy", ns, chatv1.ReasonInvalidSpec, corev1.EventTypeWarning)

	// Fixing the spec lets the Deployment through.
	eventually(t, 10*time.Second, "fixing the resources", func() error {
		h, err := getHub("greedy", ns)
		if err != nil {
			return err
		}
		h.Spec.Server.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("2")
		return suite.client.Update(suite.ctx, h)
	})
	waitCondition(t, "greedy", ns, chatv1.ConditionServerAvailable, metav1.ConditionFalse, chatv1.ReasonDeploymentProgressing)
}
