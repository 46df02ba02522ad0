// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/chathub/chathub/chatserver"
)

// crdSchema is the part of an OpenAPI v3 schema the test reads.
type crdSchema struct {
	Properties map[string]crdSchema `json:"properties"`
	Default    any                  `json:"default"`
}

// TestCRDEventHandlerDefaultsMatchTheChat fails when the +kubebuilder:default
// markers of spec.eventHandler (which cannot name a Go constant) disagree
// with chatserver.DefaultEventHandler, the one source of the default.
func TestCRDEventHandlerDefaultsMatchTheChat(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var versions []struct {
		Name   string `json:"name"`
		Schema struct {
			OpenAPIV3Schema crdSchema `json:"openAPIV3Schema"`
		} `json:"schema"`
	}
	for _, f := range files {
		raw, err := os.ReadFile(f) //nolint:gosec // G304: f is a CRD of the repository's config/crd/bases
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Names    struct{ Kind string } `json:"names"`
				Versions json.RawMessage       `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if crd.Spec.Names.Kind == "ChatHub" {
			if err := json.Unmarshal(crd.Spec.Versions, &versions); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	if len(versions) == 0 {
		t.Fatal("no ChatHub CRD with versions in config/crd/bases")
	}

	// The chat's default, as the API server would write it into a spec.
	def := chatserver.DefaultEventHandler("")
	raw, err := json.Marshal(map[string]any{"userEventPattern": def.UserEventPattern, "systemEvents": def.SystemEvents})
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}

	for _, v := range versions {
		handler := v.Schema.OpenAPIV3Schema.Properties["spec"].Properties["eventHandler"].Properties
		got := map[string]any{}
		for field := range want {
			got[field] = handler[field].Default
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("version %s: spec.eventHandler defaults in the CRD differ from chatserver.DefaultEventHandler "+
				"(fix the +kubebuilder:default markers in api/v1/chathub_types.go, then make manifests) (-go +crd):\n%s", v.Name, diff)
		}
	}
}
