// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build teardown

package teardown

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOwnerRecord checks what cluster-up and cluster-down do with a cluster
// recorded by another checkout, on a record of its own (CLUSTER_OWNER_DIR in
// a temporary folder) and no cluster running: cluster-up stops with exit
// code 3 and the command that removes it; cluster-down leaves the cluster of
// a checkout that exists alone unless ORPHAN=1, and takes down one whose
// checkout is gone by itself.
func TestOwnerRecord(t *testing.T) {
	if os.Getenv("CLUSTER_DIR") == "" || os.Geteuid() != 0 {
		t.Fatal("run the test as root with 'make test-cluster-teardown'")
	}
	if owner, err := os.ReadFile("/run/chathub-cluster/owner"); err == nil {
		t.Fatalf("a local cluster runs on this machine and this test needs none (make test-cluster-teardown does not start it then):\n%s", owner)
	}
	tmp := t.TempDir()
	ownerDir := filepath.Join(tmp, "owner")
	mine := filepath.Join(tmp, "mine", ".cache", "cluster")
	other := filepath.Join(tmp, "other")
	otherState := filepath.Join(other, ".cache", "cluster")
	for _, d := range []string{mine, filepath.Join(otherState, "pids"), filepath.Join(other, "hack", "cluster")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	// The other checkout: what checkout_alive looks for.
	writeFile(t, filepath.Join(other, "Makefile"), "", 0o600)
	writeFile(t, filepath.Join(other, "hack", "cluster", "down.sh"), "#!/bin/sh\n", 0o700)
	record := "checkout=" + other + "\ncluster_dir=" + otherState + "\nstarted=2026-01-02T03:04:05Z\nuser=root\npid containerd 999999999 1\n"
	writeFile(t, filepath.Join(ownerDir, "owner"), record, 0o600)

	run := func(name string, env ...string) (string, int) {
		t.Helper()
		cmd := exec.CommandContext(context.Background(), filepath.Join(hack, name)) //nolint:gosec // G204: the repository's own scripts
		cmd.Env = append(os.Environ(), append([]string{"CLUSTER_DIR=" + mine, "CLUSTER_OWNER_DIR=" + ownerDir}, env...)...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(out), 0
	}
	expect := func(what, out string, code, wantCode int, want ...string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("%s: exit code %d, want %d:\n%s", what, code, wantCode, out)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: the output lacks %q:\n%s", what, w, out)
			}
		}
	}
	recorded := func() bool {
		_, err := os.Stat(filepath.Join(ownerDir, "owner"))
		return err == nil
	}

	out, code := run("up.sh")
	expect("cluster-up, another checkout's cluster", out, code, 3,
		"found the local cluster of the checkout "+other, "started 2026-01-02T03:04:05Z", "make -C "+other+" cluster-down")
	out, code = run("down.sh")
	expect("cluster-down, another checkout's cluster", out, code, 3, "not to this one: left alone", "make -C "+other+" cluster-down")
	if !recorded() {
		t.Fatal("cluster-down removed the record of another checkout's cluster")
	}

	// The checkout is deleted; its state folder stays (mounts hold it).
	if err := os.Remove(filepath.Join(other, "Makefile")); err != nil {
		t.Fatal(err)
	}
	out, code = run("up.sh")
	expect("cluster-up, a deleted checkout's cluster", out, code, 3,
		"found a local cluster whose checkout "+other+" is gone", "make cluster-down ORPHAN=1")
	out, code = run("down.sh")
	expect("cluster-down, a deleted checkout's cluster", out, code, 0, "which is gone: taking it down", "down")
	if recorded() {
		t.Error("cluster-down kept the record of the cluster it took down")
	}

	// ORPHAN=1 takes down the cluster of a checkout that exists.
	writeFile(t, filepath.Join(other, "Makefile"), "", 0o600)
	writeFile(t, filepath.Join(ownerDir, "owner"), record, 0o600)
	out, code = run("down.sh", "ORPHAN=1")
	expect("cluster-down ORPHAN=1", out, code, 0, "ORPHAN=1: taking down the cluster of the checkout "+other)
	if recorded() {
		t.Error("cluster-down ORPHAN=1 kept the record")
	}
}

func writeFile(t *testing.T, name, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}
