// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build chart

package chart

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestChartRendersValidObjects renders the chart with each set of values and
// has the apiserver accept every object, then checks what the values promise.
func TestChartRendersValidObjects(t *testing.T) {
	applyCRD(t, serviceMonitorCRD)
	tests := map[string]struct {
		namespace string
		sets      []string
		check     func(t *testing.T, objs []*unstructured.Unstructured)
	}{
		"the default values give a cluster-wide operator with its CRD kept on uninstall": {
			namespace: "chathub-system",
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				crds := find(objs, "CustomResourceDefinition")
				want := []string{"chathubs.chat.webpubsub.dev", "webpubsubservices.chat.webpubsub.dev"}
				var got []string
				for _, c := range crds {
					got = append(got, c.GetName())
					if p := c.GetAnnotations()["helm.sh/resource-policy"]; p != "keep" {
						t.Errorf("CRD %s annotation helm.sh/resource-policy = %q, want keep", c.GetName(), p)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("CRDs %v, want %v", got, want)
				}
				roles := find(objs, "ClusterRole")
				manager := byName(roles, "chathub-operator-manager")
				if manager == nil {
					t.Fatalf("no ClusterRole chathub-operator-manager among %v", names(roles))
				}
				if diff := cmp.Diff(controllerGenRules(t), rulesOf(t, manager)); diff != "" {
					t.Errorf("ClusterRole rules differ from config/rbac/role.yaml (run 'make manifests') (-want +got):\n%s", diff)
				}
				if len(find(objs, "Role")) != 1 {
					t.Errorf("Roles %v, want only the leader-election Role", names(find(objs, "Role")))
				}
				d := deployment(t, objs)
				args := d.Spec.Template.Spec.Containers[0].Args
				for _, want := range []string{"manager", "--leader-elect=true", "--metrics-secure=true", "--default-chat-image=ghcr.io/chathub/chathub:dev",
					"--log-format=json", "--log-level=info", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443"} {
					if !slices.Contains(args, want) {
						t.Errorf("manager args %q lack %q", args, want)
					}
				}
				if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--watch-namespaces") }) {
					t.Errorf("manager args %q name namespaces; the default watches all", args)
				}
				if len(find(objs, "ServiceMonitor")) != 0 {
					t.Error("a ServiceMonitor is rendered although serviceMonitor.enabled is false")
				}
			},
		},
		"a list of namespaces gives namespaced Roles and no cluster-wide manager role": {
			namespace: "ops",
			sets:      []string{"watchNamespaces={team-a,team-b}", "crds.enabled=false"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				if byName(find(objs, "ClusterRole"), "chathub-operator-manager") != nil {
					t.Error("a ClusterRole chathub-operator-manager is rendered although namespaces are listed")
				}
				var managerRoles []string
				for _, r := range find(objs, "Role") {
					if r.GetName() == "chathub-operator-manager" {
						managerRoles = append(managerRoles, r.GetNamespace())
						if diff := cmp.Diff(controllerGenRules(t), rulesOf(t, r)); diff != "" {
							t.Errorf("Role rules in %s differ from config/rbac/role.yaml (-want +got):\n%s", r.GetNamespace(), diff)
						}
					}
				}
				if diff := cmp.Diff([]string{"team-a", "team-b"}, managerRoles); diff != "" {
					t.Errorf("manager Roles by namespace (-want +got):\n%s", diff)
				}
				if len(find(objs, "CustomResourceDefinition")) != 0 {
					t.Error("the CRD is rendered although crds.enabled is false")
				}
				args := deployment(t, objs).Spec.Template.Spec.Containers[0].Args
				if !slices.Contains(args, "--watch-namespaces=team-a,team-b") {
					t.Errorf("manager args %q lack --watch-namespaces=team-a,team-b", args)
				}
			},
		},
		"workload identity, a ServiceMonitor and scheduling values reach their objects": {
			namespace: "monitoring-test",
			sets: []string{
				"serviceAccount.annotations.azure\\.workload\\.identity/client-id=00000000-0000-0000-0000-000000000001",
				"string:podLabels.azure\\.workload\\.identity/use=true",
				"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.labels.release=prom",
				"nodeSelector.kubernetes\\.io/os=linux", "tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
				"replicas=2", "image.repository=example.com/chathub", "image.tag=1.2.3", "defaultChatImage=example.com/chat:9",
				"resources.limits.cpu=500m",
			},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				sas := find(objs, "ServiceAccount")
				if len(sas) != 1 || sas[0].GetAnnotations()["azure.workload.identity/client-id"] == "" {
					t.Errorf("ServiceAccounts %v lack the workload identity annotation", names(sas))
				}
				sm := find(objs, "ServiceMonitor")
				if len(sm) != 1 || sm[0].GetLabels()["release"] != "prom" {
					t.Errorf("ServiceMonitors %v, want one labelled release=prom", names(sm))
				}
				d := deployment(t, objs)
				spec := d.Spec.Template.Spec
				if *d.Spec.Replicas != 2 || spec.NodeSelector["kubernetes.io/os"] != "linux" || len(spec.Tolerations) != 1 {
					t.Errorf("replicas %d, nodeSelector %v, tolerations %v: values not applied", *d.Spec.Replicas, spec.NodeSelector, spec.Tolerations)
				}
				if d.Spec.Template.Labels["azure.workload.identity/use"] != "true" {
					t.Errorf("pod labels %v lack azure.workload.identity/use", d.Spec.Template.Labels)
				}
				c := spec.Containers[0]
				if c.Image != "example.com/chathub:1.2.3" || !slices.Contains(c.Args, "--default-chat-image=example.com/chat:9") {
					t.Errorf("image %q args %q, want example.com/chathub:1.2.3 and the default chat image", c.Image, c.Args)
				}
				if c.Resources.Limits.Cpu().String() != "500m" {
					t.Errorf("cpu limit %s, want 500m", c.Resources.Limits.Cpu())
				}
			},
		},
		"metrics and leader election can be turned off": {
			namespace: "plain",
			sets:      []string{"metrics.enabled=false", "leaderElection.enabled=false", "crds.enabled=false"},
			check: func(t *testing.T, objs []*unstructured.Unstructured) {
				for _, s := range find(objs, "Service") {
					t.Errorf("Service %s rendered although metrics are disabled", s.GetName())
				}
				if len(find(objs, "Role")) != 0 {
					t.Errorf("Roles %v rendered although leader election is disabled", names(find(objs, "Role")))
				}
				args := deployment(t, objs).Spec.Template.Spec.Containers[0].Args
				if !slices.Contains(args, "--metrics-bind-address=0") || !slices.Contains(args, "--leader-elect=false") {
					t.Errorf("manager args %q, want metrics and leader election off", args)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := render(t, tc.namespace, tc.sets...)
			applyAll(t, objs)
			tc.check(t, objs)
		})
	}
}

// TestOperatorPodMeetsTheRestrictedProfile creates (dry run) a Pod from the
// operator's pod template in a namespace that enforces the restricted Pod
// Security Standard: the apiserver's PodSecurity admission must accept it.
func TestOperatorPodMeetsTheRestrictedProfile(t *testing.T) {
	ns := "restricted-check"
	ensureNamespace(t, ns, map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	})
	d := deployment(t, render(t, ns, "crds.enabled=false"))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: ns, Labels: d.Spec.Template.Labels},
		Spec:       d.Spec.Template.Spec,
	}
	pod.Spec.ServiceAccountName = "default"
	if err := k8s.Create(context.Background(), pod, client.DryRunAll); err != nil {
		t.Fatalf("PodSecurity (restricted) refused the operator's pod: %v", err)
	}

	// The check itself must be able to fail: a privileged variant is refused.
	bad := pod.DeepCopy()
	bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil
	bad.Spec.SecurityContext.RunAsNonRoot = nil
	bad.Spec.SecurityContext.RunAsUser = nil
	if err := k8s.Create(context.Background(), bad, client.DryRunAll); err == nil {
		t.Fatal("PodSecurity accepted a pod that may escalate privileges and run as root; the namespace does not enforce restricted")
	}
}

// byName finds the object called name.
func byName(objs []*unstructured.Unstructured, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetName() == name {
			return o
		}
	}
	return nil
}

// deployment returns the chart's one Deployment, typed.
func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	ds := find(objs, gvkDeployment.Kind)
	if len(ds) != 1 {
		t.Fatalf("Deployments %v, want exactly one", names(ds))
	}
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ds[0].Object, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("containers %d, want 1", len(d.Spec.Template.Spec.Containers))
	}
	return &d
}
