// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build chart

// Package chart tests the Helm chart charts/chathub-operator: it renders the
// chart with `helm template` under several sets of values and has a real
// kube-apiserver (envtest: bin/k8s/kube-apiserver and etcd) validate every
// object with a server-side dry run. Run with `make test-chart`.
package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

var (
	// k8s is a client of the test's kube-apiserver.
	k8s client.Client
	// repoRoot is the repository's root folder.
	repoRoot string
	// kubeVersion is the test apiserver's version, for helm's kubeVersion check.
	kubeVersion string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..")
	if os.Getenv("HELM") == "" || os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "test/chart needs HELM and KUBEBUILDER_ASSETS: run 'make test-chart'")
		return 1
	}
	env := &envtest.Environment{BinaryAssetsDirectory: os.Getenv("KUBEBUILDER_ASSETS")}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting kube-apiserver and etcd:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping kube-apiserver and etcd:", err)
		}
	}()
	k8s, err = client.New(cfg, client.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	info, err := dc.ServerVersion()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading the apiserver's version:", err)
		return 1
	}
	kubeVersion = info.GitVersion
	return m.Run()
}

// render runs `helm template` on the chart, for the test apiserver's
// Kubernetes version, with the given --set values ("string:" in front of one
// makes it a --set-string) and returns its objects.
func render(t *testing.T, namespace string, sets ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := renderErr(namespace, sets...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, out)
}

// renderErr is render's `helm template`: its output, or an error holding
// helm's message.
func renderErr(namespace string, sets ...string) ([]byte, error) {
	var args []string
	for _, s := range sets {
		if v, ok := strings.CutPrefix(s, "string:"); ok {
			args = append(args, "--set-string", v)
			continue
		}
		args = append(args, "--set", s)
	}
	return helm(append([]string{"template", "chathub-operator", filepath.Join(repoRoot, "charts", "chathub-operator"),
		"--namespace", namespace, "--kube-version", kubeVersion}, args...)...)
}

// helm runs helm with args and returns its standard output, or an error
// holding its standard error.
func helm(args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(os.Getenv("HELM"), args...) //nolint:gosec // G204: the helm that make test-chart pins
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// decodeObjects decodes the objects of a rendered chart.
func decodeObjects(t *testing.T, out []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("decoding the rendered chart: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		objs = append(objs, u)
	}
	return objs
}

// ensureNamespace creates ns (for real) unless it exists, with labels.
func ensureNamespace(t *testing.T, ns string, labels map[string]string) {
	t.Helper()
	err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", ns, err)
	}
}

// applyAll validates the objects with the apiserver: CRDs are applied for real
// (later objects may need them), everything else with a server-side dry run.
func applyAll(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		applyCRD(t, o)
	}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		if ns := o.GetNamespace(); ns != "" {
			ensureNamespace(t, ns, nil)
		}
		obj := client.ApplyConfigurationFromUnstructured(o.DeepCopy())
		if err := k8s.Apply(ctx, obj, client.FieldOwner("chart-test"), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("the apiserver refused %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
}

// applyCRD applies a CRD for real and waits until it is established.
func applyCRD(t *testing.T, crd *unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	obj := client.ApplyConfigurationFromUnstructured(crd.DeepCopy())
	if err := k8s.Apply(ctx, obj, client.FieldOwner("chart-test"), client.ForceOwnership); err != nil {
		t.Fatalf("applying CRD %s: %v", crd.GetName(), err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(crd.GroupVersionKind())
		if err := k8s.Get(ctx, client.ObjectKey{Name: crd.GetName()}, got); err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("CRD %s is not Established after 30s", crd.GetName())
}

// find returns the rendered objects of one kind.
func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// names lists "namespace/name" of objects.
func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

// controllerGenRules reads the rules controller-gen wrote to config/rbac/role.yaml.
func controllerGenRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "config", "rbac", "role.yaml")) //nolint:gosec // G304: a fixed file of this repository
	if err != nil {
		t.Fatalf("reading controller-gen's RBAC output (run 'make manifests'): %v", err)
	}
	doc := strings.TrimPrefix(strings.TrimSpace(string(b)), "---")
	if i := strings.Index(doc, "\n---"); i >= 0 {
		doc = doc[:i]
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
		t.Fatalf("parsing config/rbac/role.yaml: %v", err)
	}
	return role.Rules
}

// rulesOf converts a rendered Role or ClusterRole's rules.
func rulesOf(t *testing.T, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var role rbacv1.ClusterRole
	b, _ := yaml.Marshal(o.Object)
	if err := yaml.Unmarshal(b, &role); err != nil {
		t.Fatal(err)
	}
	return role.Rules
}

// serviceMonitorCRD and podMonitorCRD are minimal Prometheus Operator
// CRDs, so that the apiserver can validate the chart's ServiceMonitor and
// PodMonitors.
var (
	serviceMonitorCRD = monitoringCRD("ServiceMonitor", "servicemonitors")
	podMonitorCRD     = monitoringCRD("PodMonitor", "podmonitors")
)

// monitoringCRD is a CRD of group monitoring.coreos.com whose objects may
// hold anything.
func monitoringCRD(kind, plural string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + ".monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com",
			"scope": "Namespaced",
			"names": map[string]any{"kind": kind, "listKind": kind + "List", "plural": plural, "singular": strings.ToLower(kind)},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
}

var gvkDeployment = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
