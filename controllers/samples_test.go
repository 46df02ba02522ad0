// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestSamplesAreAccepted sends every object of config/samples to the API
// server (dry run, in a test namespace) so the samples stay valid.
func TestSamplesAreAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "config", "samples", "chat_v1_*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("want at least 3 samples, found %v (%v)", files, err)
	}
	hubs := 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ns := newNamespace(t)
			f, err := os.Open(file) //nolint:gosec // G304: file is a sample of the repository's config/samples
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = f.Close() }()
			dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
			for {
				var obj unstructured.Unstructured
				if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("decoding: %v", err)
				}
				if obj.Object == nil || obj.GetKind() == "Namespace" {
					continue
				}
				if obj.GetKind() == "ChatHub" {
					hubs++
				}
				obj.SetNamespace(ns)
				if err := suite.client.Create(suite.ctx, &obj, client.DryRunAll); err != nil {
					t.Errorf("%s %s refused: %v", obj.GetKind(), obj.GetName(), err)
				}
			}
		})
	}
	if hubs < 4 {
		t.Errorf("the samples hold %d ChatHubs, want at least 4 (embedded, Azure with a Secret, two namespaces)", hubs)
	}
}
