// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoKubernetesDependencies keeps chathub-data light: its pods idle at
// about 11 MiB (make bench-idle) because it links none of the Kubernetes,
// controller-runtime and operator packages whose initialisers and code
// make the all-roles binary idle at about 42 MiB. An import that pulls
// one of them in fails here, naming the package.
func TestNoKubernetesDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"k8s.io/", "sigs.k8s.io/",
		"github.com/chathub/chathub/controllers", "github.com/chathub/chathub/api/",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages, want the whole dependency graph:\n%s", len(deps), out)
	}
	for _, pkg := range deps {
		for _, prefix := range forbidden {
			if strings.HasPrefix(pkg, prefix) {
				t.Errorf("chathub-data links %s; it must stay free of Kubernetes and operator packages", pkg)
			}
		}
	}
}
