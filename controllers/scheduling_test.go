// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// waitDeployment waits until the named Deployment exists and check accepts
// it, and returns it.
func waitDeployment(t *testing.T, ns, name string, check func(*appsv1.Deployment) error) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	eventually(t, 30*time.Second, "Deployment "+name, func() error {
		if err := getObj(ns, name, &d); err != nil {
			return err
		}
		return check(&d)
	})
	return &d
}

// updateDeployment applies mutate to the stored Deployment, retrying on
// conflicts: someone other than the operator editing it.
func updateDeployment(t *testing.T, ns, name string, mutate func(*appsv1.Deployment)) {
	t.Helper()
	eventually(t, 10*time.Second, "updating Deployment "+name, func() error {
		var d appsv1.Deployment
		if err := getObj(ns, name, &d); err != nil {
			return err
		}
		mutate(&d)
		return suite.client.Update(suite.ctx, &d)
	})
}

// schedulingOf reads the scheduling fields back from a pod template.
func schedulingOf(tpl corev1.PodTemplateSpec, spec chatv1.PodSchedulingSpec) (chatv1.PodSchedulingSpec, error) {
	pod := tpl.Spec
	got := chatv1.PodSchedulingSpec{
		NodeSelector: pod.NodeSelector, Tolerations: pod.Tolerations, Affinity: pod.Affinity,
		TopologySpreadConstraints: pod.TopologySpreadConstraints, PriorityClassName: pod.PriorityClassName,
		ImagePullSecrets: pod.ImagePullSecrets,
		PodLabels:        map[string]string{}, PodAnnotations: map[string]string{},
	}
	for k := range spec.PodLabels {
		if v, ok := tpl.Labels[k]; ok {
			got.PodLabels[k] = v
		}
	}
	for k := range spec.PodAnnotations {
		if v, ok := tpl.Annotations[k]; ok {
			got.PodAnnotations[k] = v
		}
	}
	if diff := cmp.Diff(spec, got); diff != "" {
		return got, fmt.Errorf("scheduling fields (-want +got):\n%s", diff)
	}
	return got, nil
}

func TestReconcileAppliesSchedulingFields(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("sched", ns)
	server, pubsub := fullScheduling("server"), fullScheduling("pubsub")
	hub.Spec.Server.PodSchedulingSpec = server
	hub.Spec.Server.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}}
	hub.Spec.WebPubSub.Embedded.PodSchedulingSpec = pubsub
	mustCreate(t, hub)

	d := waitDeployment(t, ns, "sched", func(d *appsv1.Deployment) error {
		_, err := schedulingOf(d.Spec.Template, server)
		return err
	})
	local := waitDeployment(t, ns, "sched-pubsub", func(d *appsv1.Deployment) error {
		_, err := schedulingOf(d.Spec.Template, pubsub)
		return err
	})
	for _, dep := range []*appsv1.Deployment{d, local} {
		if v := dep.Labels["team"]; v != "" {
			t.Errorf("Deployment %s carries the pod label team=%s; podLabels belong on the pod template only", dep.Name, v)
		}
		if _, ok := dep.Annotations["a.example.com/x"]; ok {
			t.Errorf("Deployment %s carries a pod annotation; podAnnotations belong on the pod template only", dep.Name)
		}
		if got := dep.Annotations[PodAnnotationsAnnotation]; got != "a.example.com/x,b.example.com/y" {
			t.Errorf("Deployment %s: %s = %q", dep.Name, PodAnnotationsAnnotation, got)
		}
	}
	// The user's memory limit wins (the API server defaults the pods'
	// request to it); cpu, which the user left alone, gets the default request.
	res := d.Spec.Template.Spec.Containers[0].Resources
	if _, ok := res.Requests[corev1.ResourceMemory]; ok || res.Requests.Cpu().String() != "10m" || res.Limits.Memory().String() != "256Mi" {
		t.Errorf("chat server resources %+v, want a request of cpu 10m, no memory request and the memory limit 256Mi", res)
	}

	// Applying the same spec again changes nothing: no field is defaulted
	// differently by the API server.
	hub = waitCondition(t, "sched", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	if err := getObj(ns, "sched", d); err != nil {
		t.Fatal(err)
	}
	rv := d.ResourceVersion
	if _, err := suite.rec.Reconcile(suite.ctx, reconcileRequest(hub)); err != nil {
		t.Fatalf("reconciling again: %v", err)
	}
	if err := getObj(ns, "sched", d); err != nil {
		t.Fatal(err)
	}
	if d.ResourceVersion != rv {
		t.Errorf("reconciling an unchanged ChatHub rewrote the Deployment (resourceVersion %s → %s)", rv, d.ResourceVersion)
	}

	// Editing the fields reaches the pods; a removed podAnnotation leaves the
	// pod template, one added by someone else stays.
	updateDeployment(t, ns, "sched", func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = "2026-11-30T10:00:00Z"
	})
	if err := updateHub("sched", ns, func(h *chatv1.ChatHub) {
		h.Spec.Server.NodeSelector = map[string]string{"pool": "big"}
		h.Spec.Server.Tolerations = nil
		h.Spec.Server.PodAnnotations = map[string]string{"a.example.com/x": "3"}
	}); err != nil {
		t.Fatalf("updating the ChatHub: %v", err)
	}
	waitDeployment(t, ns, "sched", func(d *appsv1.Deployment) error {
		a := d.Spec.Template.Annotations
		switch {
		case d.Spec.Template.Spec.NodeSelector["pool"] != "big" || d.Spec.Template.Spec.Tolerations != nil:
			return fmt.Errorf("nodeSelector %v, tolerations %v", d.Spec.Template.Spec.NodeSelector, d.Spec.Template.Spec.Tolerations)
		case a["a.example.com/x"] != "3":
			return fmt.Errorf("pod annotation a.example.com/x=%q, want 3", a["a.example.com/x"])
		case a["b.example.com/y"] != "":
			return errors.New("the removed pod annotation b.example.com/y is still on the pod template")
		case a["kubectl.kubernetes.io/restartedAt"] == "":
			return errors.New("the restartedAt annotation someone else added was dropped")
		case d.Annotations[PodAnnotationsAnnotation] != "a.example.com/x":
			return fmt.Errorf("%s = %q, want a.example.com/x", PodAnnotationsAnnotation, d.Annotations[PodAnnotationsAnnotation])
		}
		return nil
	})
}

func TestReconcileDefaultRequests(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, embeddedHub("burst", ns))
	for _, name := range []string{"burst", "burst-pubsub"} {
		d := waitDeployment(t, ns, name, func(*appsv1.Deployment) error { return nil })
		for _, c := range d.Spec.Template.Spec.Containers {
			// Requests without limits: a Burstable pod, no longer BestEffort.
			if c.Resources.Requests.Cpu().String() != "10m" || c.Resources.Requests.Memory().String() != "24Mi" || len(c.Resources.Limits) != 0 {
				t.Errorf("Deployment %s container %s resources %+v, want requests cpu 10m, memory 24Mi and no limits", name, c.Name, c.Resources)
			}
		}
	}
}

func TestReconcilePodDisruptionBudget(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("budget", ns)
	hub.Spec.Server.Replicas = ptr.To[int32](2)
	mustCreate(t, hub)
	hub = waitCondition(t, "budget", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)

	var pdb policyv1.PodDisruptionBudget
	eventually(t, 30*time.Second, "the PodDisruptionBudget", func() error { return getObj(ns, "budget", &pdb) })
	checkOwned(t, &pdb, hub)
	if pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromInt32(1) || pdb.Spec.MinAvailable != nil ||
		pdb.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != "chatserver" || pdb.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != "budget" {
		t.Errorf("PodDisruptionBudget spec %+v", pdb.Spec)
	}
	if err := getObj(ns, "budget-pubsub", &policyv1.PodDisruptionBudget{}); !apierrors.IsNotFound(err) {
		t.Errorf("the single-replica PubSub service got a PodDisruptionBudget (err %v)", err)
	}

	// Someone edits the budget: it is put back.
	eventually(t, 10*time.Second, "editing the PodDisruptionBudget", func() error {
		var p policyv1.PodDisruptionBudget
		if err := getObj(ns, "budget", &p); err != nil {
			return err
		}
		p.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(0))
		return suite.client.Update(suite.ctx, &p)
	})
	eventually(t, 30*time.Second, "the PodDisruptionBudget put back", func() error {
		var p policyv1.PodDisruptionBudget
		if err := getObj(ns, "budget", &p); err != nil {
			return err
		}
		if p.Spec.MaxUnavailable == nil || *p.Spec.MaxUnavailable != intstr.FromInt32(1) {
			return fmt.Errorf("maxUnavailable %v", p.Spec.MaxUnavailable)
		}
		return nil
	})

	// Back to one replica: the budget goes.
	if err := updateHub("budget", ns, func(h *chatv1.ChatHub) { h.Spec.Server.Replicas = ptr.To[int32](1) }); err != nil {
		t.Fatalf("updating the ChatHub: %v", err)
	}
	eventually(t, 30*time.Second, "the PodDisruptionBudget deleted", func() error {
		err := getObj(ns, "budget", &policyv1.PodDisruptionBudget{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (err %w)", err)
	})
}

func TestReconcileLeavesForeignPodDisruptionBudget(t *testing.T) {
	ns := newNamespace(t)
	foreign := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "single", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
		},
	}
	mustCreate(t, foreign)
	mustCreate(t, embeddedHub("single", ns))
	hub := waitCondition(t, "single", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	// The manager may write the status at the same moment: a conflict is
	// retried, as the manager would.
	if err := retry.OnError(retry.DefaultRetry, apierrors.IsConflict, func() error {
		_, err := suite.rec.Reconcile(suite.ctx, reconcileRequest(hub))
		return err
	}); err != nil {
		t.Fatalf("reconciling: %v", err)
	}
	var have policyv1.PodDisruptionBudget
	if err := getObj(ns, "single", &have); err != nil {
		t.Fatalf("a one-replica ChatHub deleted a PodDisruptionBudget it does not own: %v", err)
	}
	if have.Spec.Selector.MatchLabels["app"] != "other" || metav1.GetControllerOf(&have) != nil {
		t.Errorf("the foreign PodDisruptionBudget was changed: %+v", have)
	}
}

func TestReconcileRestoresOwnedDeploymentFields(t *testing.T) {
	ns := newNamespace(t)
	mustCreate(t, embeddedHub("owned", ns))
	waitDeployment(t, ns, "owned", func(*appsv1.Deployment) error { return nil })

	updateDeployment(t, ns, "owned", func(d *appsv1.Deployment) {
		d.Spec.Paused = true
		d.Spec.MinReadySeconds = 30
		d.Spec.Replicas = ptr.To[int32](5)
		d.Spec.Template.Spec.NodeSelector = map[string]string{"pool": "someone-elses"}
		d.Annotations = mergeLabels(d.Annotations, map[string]string{"example.com/note": "keep me"})
		d.Labels = mergeLabels(d.Labels, map[string]string{"example.com/team": "a"})
	})
	waitDeployment(t, ns, "owned", func(d *appsv1.Deployment) error {
		switch {
		case d.Spec.Paused || d.Spec.MinReadySeconds != 0 || *d.Spec.Replicas != 1 || d.Spec.Template.Spec.NodeSelector != nil:
			return fmt.Errorf("paused %v, minReadySeconds %d, replicas %d, nodeSelector %v: not put back yet",
				d.Spec.Paused, d.Spec.MinReadySeconds, *d.Spec.Replicas, d.Spec.Template.Spec.NodeSelector)
		case d.Annotations["example.com/note"] != "keep me" || d.Labels["example.com/team"] != "a":
			return fmt.Errorf("the annotation or label someone else added is gone: annotations %v, labels %v", d.Annotations, d.Labels)
		}
		return nil
	})
}

func TestSchedulingValidation(t *testing.T) {
	ns := newNamespace(t)
	tests := map[string]struct {
		mutate func(*chatv1.ChatHub)
		want   string
	}{
		"a pod label overriding the selector's instance label is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Server.PodLabels = map[string]string{"app.kubernetes.io/instance": "other"}
			},
			want: "podLabels cannot set app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component or app.kubernetes.io/managed-by",
		},
		"a pod label overriding the component label of the PubSub service is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub.Embedded.PodLabels = map[string]string{"app.kubernetes.io/component": "chatserver"}
			},
			want: "spec.webPubSub.embedded.podLabels: Invalid value",
		},
		"a pod annotation overriding the connection hash is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Server.PodAnnotations = map[string]string{ConnectionHashAnnotation: "x"}
			},
			want: "podAnnotations cannot set chat.webpubsub.dev/connection-hash",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := embeddedHub("chat", ns)
			tc.mutate(h)
			err := suite.client.Create(suite.ctx, h)
			if err == nil {
				t.Fatalf("the API server accepted the spec; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
	// Other labels and annotations are accepted.
	h := embeddedHub("fine", ns)
	h.Spec.Server.PodLabels = map[string]string{"app.kubernetes.io/part-of": "chat", "team": "a"}
	h.Spec.Server.PodAnnotations = map[string]string{"prometheus.io/scrape": "true"}
	mustCreate(t, h)
}
