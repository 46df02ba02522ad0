// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// samplesDir is config/samples, seen from this package.
var samplesDir = filepath.Join("..", "config", "samples")

// sampleKustomization is the kustomization of samplesDir.
const sampleKustomization = "kustomization.yaml"

// sampleFiles returns the sample files of samplesDir: every YAML file but
// the kustomization.
func sampleFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == sampleKustomization })
	if len(files) < 5 {
		t.Fatalf("want at least 5 samples in %s, found %v", samplesDir, files)
	}
	return files
}

// decodeObjects reads every object of a YAML stream.
func decodeObjects(t *testing.T, what string, r io.Reader) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decoding %s: %v", what, err)
		}
		if obj.Object != nil {
			objs = append(objs, obj)
		}
	}
}

// sampleObjects reads the objects of one sample file.
func sampleObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(file) //nolint:gosec // G304: file is a sample of the repository's config/samples
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	return decodeObjects(t, file, f)
}

// dryRunApply sends objs to the API server as `kubectl apply --server-side
// --dry-run=server` would, against the real CRDs: schema (unknown fields
// included), defaults and CEL rules are checked, nothing is stored. Each namespace the objects name (or
// the default namespace for those that name none) is replaced by a new test
// namespace, so that namespaces of the samples need not exist; Namespace
// objects are sent as they are.
func dryRunApply(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	namespaces := map[string]string{}
	for _, obj := range objs {
		obj = obj.DeepCopy()
		if obj.GetKind() != "Namespace" {
			ns := obj.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			if namespaces[ns] == "" {
				namespaces[ns] = newNamespace(t)
			}
			obj.SetNamespace(namespaces[ns])
		}
		what := fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
		if err := suite.client.Apply(suite.ctx, client.ApplyConfigurationFromUnstructured(obj),
			client.DryRunAll, client.FieldOwner("samples-test"), client.ForceOwnership); err != nil {
			t.Errorf("%s refused by server-side apply: %v", what, err)
		}
	}
}

// TestSamplesAreAccepted applies every sample file on its own, with a
// server-side dry run against the generated CRDs, so a sample that does not
// validate fails here. Samples hold no Secrets: a key in a sample is either
// a placeholder that would be applied as it is, or a real one.
func TestSamplesAreAccepted(t *testing.T) {
	hubs := 0
	for _, file := range sampleFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file) //nolint:gosec // G304: file is a sample of the repository's config/samples
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(strings.ToLower(string(b)), "accesskey=") {
				t.Errorf("%s holds a connection string; samples take them from a Secret the user creates", file)
			}
			objs := sampleObjects(t, file)
			if len(objs) == 0 {
				t.Fatalf("%s holds no object", file)
			}
			for _, obj := range objs {
				switch obj.GetKind() {
				case "Secret":
					t.Errorf("%s holds Secret %s; say how to create it instead", file, obj.GetName())
				case "ChatHub":
					hubs++
				}
			}
			dryRunApply(t, objs)
		})
	}
	if hubs < 6 {
		t.Errorf("the samples hold %d ChatHubs, want at least 6 (embedded, two namespaces, two on a WebPubSubService, Azure by resource ID and by Secret)", hubs)
	}
}

// hubSource is the name of the one source of a ChatHub's spec.webPubSub.
func hubSource(t *testing.T, hub *unstructured.Unstructured) string {
	t.Helper()
	src, _, err := unstructured.NestedMap(hub.Object, "spec", "webPubSub")
	if err != nil || len(src) != 1 {
		t.Fatalf("ChatHub %s: want exactly one source in spec.webPubSub, got %v (%v)", hub.GetName(), src, err)
	}
	for name := range src {
		return name
	}
	return ""
}

// workingSources are the sources a sample can use and still work as it is:
// the operator runs the PubSub service. The others need the user's Azure
// resource, identity or Secret.
var workingSources = map[string]bool{"embedded": true, "serviceRef": true}

// TestSampleKustomization keeps `kubectl apply -k config/samples` to hubs
// that work as they are: the kustomization lists existing sample files;
// every ChatHub they hold runs on the operator's own PubSub service (a
// serviceRef names a WebPubSubService of the same namespace in the listed
// files); every sample left out needs edits (an Azure or Secret source); and
// `kubectl kustomize` builds it into objects the API server accepts.
func TestSampleKustomization(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(samplesDir, sampleKustomization)) //nolint:gosec // G304: the kustomization of the repository's config/samples
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		t.Fatalf("%s: %v", sampleKustomization, err)
	}
	if len(k.Resources) == 0 {
		t.Fatalf("%s lists no resources", sampleKustomization)
	}
	listed := map[string]bool{}
	var objs []*unstructured.Unstructured
	for _, res := range k.Resources {
		path := filepath.Join(samplesDir, filepath.FromSlash(res))
		if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || filepath.Dir(path) != samplesDir {
			t.Errorf("%s lists %s, which is not a file of config/samples (%v)", sampleKustomization, res, err)
			continue
		}
		listed[filepath.Base(path)] = true
		objs = append(objs, sampleObjects(t, path)...)
	}

	services := map[string]bool{} // namespace/name of the listed WebPubSubServices
	for _, o := range objs {
		if o.GetKind() == "WebPubSubService" {
			services[o.GetNamespace()+"/"+o.GetName()] = true
		}
	}
	hubs := 0
	for _, o := range objs {
		if o.GetKind() != "ChatHub" {
			continue
		}
		hubs++
		src := hubSource(t, o)
		if !workingSources[src] {
			t.Errorf("ChatHub %s/%s in the kustomization uses source %s, which needs edits before it works", o.GetNamespace(), o.GetName(), src)
		}
		if ref, _, _ := unstructured.NestedString(o.Object, "spec", "webPubSub", "serviceRef", "name"); src == "serviceRef" && !services[o.GetNamespace()+"/"+ref] {
			t.Errorf("ChatHub %s/%s names WebPubSubService %s, which the kustomization does not create in its namespace", o.GetNamespace(), o.GetName(), ref)
		}
	}
	if hubs == 0 {
		t.Errorf("the kustomization creates no ChatHub")
	}
	for _, file := range sampleFiles(t) {
		if listed[filepath.Base(file)] {
			continue
		}
		needsEdits := false
		for _, o := range sampleObjects(t, file) {
			if o.GetKind() == "ChatHub" && !workingSources[hubSource(t, o)] {
				needsEdits = true
			}
		}
		if !needsEdits {
			t.Errorf("%s works as it is but is missing from %s", filepath.Base(file), sampleKustomization)
		}
	}

	kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
	if _, err := os.Stat(kubectl); err != nil { //nolint:gosec // G703: kubectl of the test assets the developer configured
		t.Fatalf("kubectl, which builds the kustomization, is missing from $KUBEBUILDER_ASSETS (make envtest puts it there): %v", err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(suite.ctx, kubectl, "kustomize", samplesDir) //nolint:gosec // G204: kubectl of the test assets on the repository's samples
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", samplesDir, err, stderr.String())
	}
	built := decodeObjects(t, "the kustomize output", bytes.NewReader(out))
	if len(built) != len(objs) {
		t.Errorf("kubectl kustomize built %d objects, the listed files hold %d", len(built), len(objs))
	}
	dryRunApply(t, built)
}
