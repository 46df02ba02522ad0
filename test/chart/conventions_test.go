// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build chart

package chart

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/controllers"
)

// TestEveryNewValue turns on every value a platform engineer expects
// (disruption budget, spread constraints, extra environment, Deployment
// annotations, PodMonitors, the Grafana dashboard, CRDs not kept), has the
// apiserver accept the objects and checks each value reaches its object.
func TestEveryNewValue(t *testing.T) {
	applyCRD(t, podMonitorCRD)
	ns := "every-value"
	objs := render(t, ns,
		"replicas=2",
		"podDisruptionBudget.enabled=true", "podDisruptionBudget.minAvailable=1",
		"topologySpreadConstraints[0].maxSkew=1", "topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone",
		"topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
		"topologySpreadConstraints[1].maxSkew=2", "topologySpreadConstraints[1].topologyKey=kubernetes.io/hostname",
		"topologySpreadConstraints[1].whenUnsatisfiable=DoNotSchedule",
		"topologySpreadConstraints[1].labelSelector.matchLabels.tier=control",
		"extraEnv[0].name=GODEBUG", "extraEnv[0].value=http2debug=1",
		"extraEnv[1].name=TOKEN", "extraEnv[1].valueFrom.secretKeyRef.name=tok", "extraEnv[1].valueFrom.secretKeyRef.key=t",
		"deploymentAnnotations.example\\.com/owner=team-chat",
		"podAnnotations.example\\.com/pod=yes",
		"crds.keep=false",
		"metrics.podMonitor.enabled=true", "metrics.podMonitor.labels.release=prom", "metrics.podMonitor.interval=15s",
		"grafanaDashboard.enabled=true", "grafanaDashboard.annotations.grafana_folder=ChatHub",
	)
	applyAll(t, objs)

	for _, c := range find(objs, "CustomResourceDefinition") {
		if p, ok := c.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("CRD %s is annotated helm.sh/resource-policy: %s although crds.keep is false", c.GetName(), p)
		}
	}
	if n := len(find(objs, "CustomResourceDefinition")); n != 2 {
		t.Errorf("%d CRDs rendered, want 2: crds.keep=false must not drop them", n)
	}

	d := deployment(t, objs)
	if got := d.Annotations["example.com/owner"]; got != "team-chat" {
		t.Errorf("Deployment annotations %v lack example.com/owner=team-chat", d.Annotations)
	}
	if _, ok := d.Spec.Template.Annotations["example.com/owner"]; ok {
		t.Errorf("the pod template got the Deployment's annotation: %v", d.Spec.Template.Annotations)
	}
	if d.Spec.Template.Annotations["example.com/pod"] != "yes" {
		t.Errorf("pod annotations %v lack example.com/pod (podAnnotations must still work)", d.Spec.Template.Annotations)
	}
	env := d.Spec.Template.Spec.Containers[0].Env
	var envNames []string
	for _, e := range env {
		envNames = append(envNames, e.Name)
	}
	if diff := cmp.Diff([]string{"POD_NAMESPACE", "GODEBUG", "TOKEN"}, envNames); diff != "" {
		t.Errorf("manager env (-want +got):\n%s", diff)
	} else if env[1].Value != "http2debug=1" || env[2].ValueFrom == nil || env[2].ValueFrom.SecretKeyRef.Name != "tok" {
		t.Errorf("extraEnv not passed as given: %+v", env[1:])
	}

	podLabels := labels.Set(d.Spec.Template.Labels)
	tsc := d.Spec.Template.Spec.TopologySpreadConstraints
	if len(tsc) != 2 {
		t.Fatalf("topologySpreadConstraints %+v, want 2", tsc)
	}
	if sel, err := metav1.LabelSelectorAsSelector(tsc[0].LabelSelector); err != nil || tsc[0].LabelSelector == nil || !sel.Matches(podLabels) {
		t.Errorf("the constraint without a labelSelector got %v, which does not select the operator's pods %v", tsc[0].LabelSelector, podLabels)
	}
	if diff := cmp.Diff(map[string]string{"tier": "control"}, tsc[1].LabelSelector.MatchLabels); diff != "" {
		t.Errorf("the constraint's own labelSelector was changed (-want +got):\n%s", diff)
	}

	pdbs := find(objs, "PodDisruptionBudget")
	if len(pdbs) != 1 {
		t.Fatalf("PodDisruptionBudgets %v, want one", names(pdbs))
	}
	var pdb policyv1.PodDisruptionBudget
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(pdbs[0].Object, &pdb); err != nil {
		t.Fatal(err)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("PodDisruptionBudget minAvailable %v maxUnavailable %v, want minAvailable 1 only", pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable)
	}
	if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
		t.Errorf("the PodDisruptionBudget's selector %v does not select the operator's pods %v", pdb.Spec.Selector, podLabels)
	}

	checkPodMonitors(t, objs, "chathub-operator", true, nil)

	cms := find(objs, "ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("ConfigMaps %v, want the dashboard's", names(cms))
	}
	cm := cms[0]
	if cm.GetLabels()["grafana_dashboard"] != "1" || cm.GetAnnotations()["grafana_folder"] != "ChatHub" {
		t.Errorf("dashboard ConfigMap labels %v annotations %v, want grafana_dashboard=1 and grafana_folder", cm.GetLabels(), cm.GetAnnotations())
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", "chathub.json")
	file, err := os.ReadFile(dashboardFile())
	if err != nil {
		t.Fatal(err)
	}
	if data != strings.TrimRight(string(file), "\n") {
		t.Error("the ConfigMap's chathub.json differs from dashboards/chathub.json")
	}
}

// checkPodMonitors checks the operator's PodMonitor (with its token when
// secure) and the data plane's, named after fullname: the data plane's
// selects the pods the operator creates, in watched (nil: any) namespaces,
// and scrapes the port each names.
func checkPodMonitors(t *testing.T, objs []*unstructured.Unstructured, fullname string, secure bool, watched []string) {
	t.Helper()
	pms := find(objs, "PodMonitor")
	op := byName(pms, fullname)
	dp := byName(pms, fullname+"-data-plane")
	if len(pms) != 2 || op == nil || dp == nil {
		t.Fatalf("PodMonitors %v, want %s and %[2]s-data-plane", names(pms), fullname)
	}
	for _, pm := range pms {
		if pm.GetLabels()["release"] != "prom" {
			t.Errorf("PodMonitor %s labels %v lack release=prom", pm.GetName(), pm.GetLabels())
		}
	}

	// The operator's pods, on port metrics.
	d := deployment(t, objs)
	sel, _, _ := unstructured.NestedStringMap(op.Object, "spec", "selector", "matchLabels")
	if !labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("the operator's PodMonitor selects %v, not the operator's pods %v", sel, d.Spec.Template.Labels)
	}
	eps, _, _ := unstructured.NestedSlice(op.Object, "spec", "podMetricsEndpoints")
	if len(eps) != 1 {
		t.Fatalf("operator PodMonitor endpoints %v, want one", eps)
	}
	ep := eps[0].(map[string]any)
	var ports []string
	for _, p := range d.Spec.Template.Spec.Containers[0].Ports {
		ports = append(ports, p.Name)
	}
	if !slices.Contains(ports, ep["port"].(string)) {
		t.Errorf("the operator's PodMonitor scrapes port %v; the pod's ports are %v", ep["port"], ports)
	}
	secretName, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "name")
	if !secure {
		if secretName != "" || ep["scheme"] == "https" {
			t.Errorf("operator endpoint %v uses a token or https although metrics.secure is false", ep)
		}
	} else {
		if ep["scheme"] != "https" || secretName == "" {
			t.Fatalf("operator endpoint %v, want https with a token Secret", ep)
		}
		s := byName(find(objs, "Secret"), secretName)
		if s == nil {
			t.Fatalf("the PodMonitor's token Secret %s is not rendered", secretName)
		}
		var secret corev1.Secret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(s.Object, &secret); err != nil {
			t.Fatal(err)
		}
		sa := secret.Annotations[corev1.ServiceAccountNameKey]
		if secret.Type != corev1.SecretTypeServiceAccountToken || byName(find(objs, "ServiceAccount"), sa) == nil {
			t.Errorf("Secret %s is of type %s for ServiceAccount %q, want a token of a rendered ServiceAccount", secretName, secret.Type, sa)
		}
		b := byName(find(objs, "ClusterRoleBinding"), secretName)
		role, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
		reader := byName(find(objs, "ClusterRole"), role)
		if reader == nil || !strings.Contains(strings.Join(mustRules(t, reader), " "), "/metrics") {
			t.Errorf("ServiceAccount %s is bound to %q, not to a rendered ClusterRole that reads /metrics", sa, role)
		}
	}

	// The data plane: the labels and annotation the operator puts on its pods.
	var dpSel metav1.LabelSelector
	spec, _, _ := unstructured.NestedMap(dp.Object, "spec", "selector")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &dpSel); err != nil {
		t.Fatal(err)
	}
	selector, err := metav1.LabelSelectorAsSelector(&dpSel)
	if err != nil {
		t.Fatal(err)
	}
	hub := &chatv1.ChatHub{ObjectMeta: metav1.ObjectMeta{Name: "lobby", Namespace: "team-a"}}
	for _, component := range []string{"chatserver", "pubsub"} {
		if l := controllers.Labels(hub, component); !selector.Matches(labels.Set(l)) {
			t.Errorf("the data-plane PodMonitor (%s) does not select the %s pods the operator labels %v", selector, component, l)
		}
	}
	if selector.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("the data-plane PodMonitor also selects the operator's pods %v", d.Spec.Template.Labels)
	}
	anyNS, _, _ := unstructured.NestedBool(dp.Object, "spec", "namespaceSelector", "any")
	matchNames, _, _ := unstructured.NestedStringSlice(dp.Object, "spec", "namespaceSelector", "matchNames")
	if watched == nil && !anyNS || watched != nil && (anyNS || !slices.Equal(matchNames, watched)) {
		t.Errorf("data-plane namespaceSelector any=%v matchNames=%v, want any or %v", anyNS, matchNames, watched)
	}
	annotationLabel := "__meta_kubernetes_pod_annotation_" + regexp.MustCompile(`[^a-zA-Z0-9_]`).ReplaceAllString(controllers.MetricsPortAnnotation, "_")
	eps, _, _ = unstructured.NestedSlice(dp.Object, "spec", "podMetricsEndpoints")
	var scraped []string
	for _, e := range eps {
		ep := e.(map[string]any)
		port := ep["port"].(string)
		scraped = append(scraped, port)
		rl, _, _ := unstructured.NestedSlice(ep, "relabelings")
		kept := false
		for _, r := range rl {
			r := r.(map[string]any)
			src, _ := r["sourceLabels"].([]any)
			if r["action"] == "keep" && len(src) == 1 && src[0] == annotationLabel && r["regex"] == port {
				kept = true
			}
		}
		if !kept {
			t.Errorf("data-plane endpoint on port %s does not keep only pods whose %s is %s: %v", port, controllers.MetricsPortAnnotation, port, rl)
		}
	}
	slices.Sort(scraped)
	if diff := cmp.Diff([]string{"http", "metrics"}, scraped); diff != "" {
		t.Errorf("data-plane ports (the chat server's and PubSub service's metrics ports) (-want +got):\n%s", diff)
	}
}

// mustRules lists a rendered role's rules as text.
func mustRules(t *testing.T, role *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, r := range rulesOf(t, role) {
		out = append(out, r.String())
	}
	return out
}

// TestChartAsSubchart installs the chart as a dependency (file://) of a
// parent chart whose values have global settings: the schema must accept
// them, the parent's values must reach the subchart, and its objects must be
// valid. A key the chart does not know is still refused.
func TestChartAsSubchart(t *testing.T) {
	applyCRD(t, podMonitorCRD)
	for _, v := range []string{"HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"} {
		t.Setenv(v, t.TempDir())
	}
	parent := t.TempDir()
	chart := filepath.Join(repoRoot, "charts", "chathub-operator")
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(parent, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("Chart.yaml", `apiVersion: v2
name: platform
version: 1.0.0
dependencies:
- name: chathub-operator
  version: ">=0.0.0-0"
  repository: file://`+chart+`
`)
	write("values.yaml", `global:
  imageRegistry: registry.example.com
  labels: {team: platform}
chathub-operator:
  watchNamespaces: [team-a]
  crds: {enabled: false}
  metrics:
    secure: false
    podMonitor: {enabled: true, labels: {release: prom}}
`)
	if _, err := helm("dependency", "update", "--skip-refresh", parent); err != nil {
		t.Fatal(err)
	}
	ns := "platform"
	out, err := helm("template", "platform", parent, "--namespace", ns, "--kube-version", kubeVersion)
	if err != nil {
		t.Fatalf("the chart refuses to be a subchart with global values: %v", err)
	}
	objs := decodeObjects(t, out)
	applyAll(t, objs)
	d := deployment(t, objs)
	if d.Name != "platform-chathub-operator" || !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, "--watch-namespaces=team-a") {
		t.Errorf("Deployment %s args %q: the parent's values did not reach the subchart", d.Name, d.Spec.Template.Spec.Containers[0].Args)
	}
	checkPodMonitors(t, objs, "platform-chathub-operator", false, []string{"team-a"})

	write("values.yaml", "global: {a: 1}\nchathub-operator:\n  replicaCount: 2\n")
	_, err = helm("template", "platform", parent, "--namespace", ns, "--kube-version", kubeVersion)
	if err == nil || !strings.Contains(err.Error(), "replicaCount") {
		t.Errorf("a subchart value the chart does not know (replicaCount) gave %v, want an error naming it", err)
	}
}

// TestChartRefusesInconsistentValues: values that cannot work give an
// error that says why, at `helm template` (and so at install).
func TestChartRefusesInconsistentValues(t *testing.T) {
	tests := map[string]struct {
		sets []string
		want string
	}{
		"two replicas without leader election": {
			sets: []string{"replicas=2", "leaderElection.enabled=false"},
			want: "replicas is 2 but leaderElection.enabled is false: several operator replicas without leader election would all reconcile the same ChatHubs; set leaderElection.enabled=true or replicas=1",
		},
		"a disruption budget with neither bound": {
			sets: []string{"podDisruptionBudget.enabled=true", "string:podDisruptionBudget.minAvailable=", "string:podDisruptionBudget.maxUnavailable="},
			want: "podDisruptionBudget.enabled is true but both minAvailable and maxUnavailable are empty",
		},
		"a disruption budget that is neither a number nor a percentage": {
			sets: []string{"podDisruptionBudget.enabled=true", "string:podDisruptionBudget.minAvailable=half"},
			want: "minAvailable",
		},
		"an environment variable without a name": {
			sets: []string{"extraEnv[0].value=x"},
			want: "name",
		},
		"a spread constraint without a topology key": {
			sets: []string{"topologySpreadConstraints[0].maxSkew=1", "topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule"},
			want: "topologyKey",
		},
		"crds.keep that is not a boolean": {
			sets: []string{"string:crds.keep=no"},
			want: "keep",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := renderErr("refused", tc.sets...)
			if err == nil {
				t.Fatalf("helm template accepted %v", tc.sets)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\ndoes not say %q", err, tc.want)
			}
		})
	}
	// One replica without leader election is fine.
	if _, err := renderErr("refused", "replicas=1", "leaderElection.enabled=false"); err != nil {
		t.Errorf("one replica without leader election was refused: %v", err)
	}
}
