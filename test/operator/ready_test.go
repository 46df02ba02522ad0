// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package operator

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// lockedBuffer is a bytes.Buffer the manager's output goroutine and the
// test can share (the package imports nothing of the project).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestManagerReadyzWaitsForTheCache runs the manager as a user who may not
// list anything: the process is alive (/healthz 200) but its informers
// cannot sync, so /readyz fails; once a binding grants the user the
// rights, the caches sync, the controllers start and /readyz answers 200.
func TestManagerReadyzWaitsForTheCache(t *testing.T) {
	bin, dir, env := startManagerEnv(t)
	kubeconfig, err := env.KubeconfigFor(dir, "chathub-late")
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	mgr, err := LaunchManager(bin, kubeconfig, &logs, "--log-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mgr.Stop()
		if t.Failed() {
			t.Logf("manager log:\n%s", logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := mgr.WaitProbe(ctx, "/healthz"); err != nil {
		t.Fatalf("/healthz: %v", err)
	}
	if code, err := mgr.Probe("/readyz"); err != nil || code == http.StatusOK {
		t.Fatalf("/readyz: %d %v while the manager may not list ChatHubs, want a failure", code, err)
	}

	if _, err := env.Kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "chathub-late"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "chathub-late"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := mgr.WaitProbe(ctx, "/readyz"); err != nil {
		t.Fatalf("/readyz after the rights were granted: %v", err)
	}
	// --log-format json: every line the manager wrote is one JSON object,
	// the client libraries' (klog) included.
	for line := range bytes.Lines([]byte(logs.String())) {
		if !bytes.HasPrefix(line, []byte("{")) || !bytes.HasSuffix(bytes.TrimSpace(line), []byte("}")) {
			t.Errorf("a log line is not a JSON object: %q", line)
		}
	}
}

// startManagerEnv builds the manager binary and starts a real API server
// for it; both end with the test.
func startManagerEnv(t *testing.T) (bin, dir string, env *Env) {
	t.Helper()
	ctrllog.SetLogger(logr.Discard()) // envtest's own log
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if bin, err = BuildManager(root, dir); err != nil {
		t.Fatal(err)
	}
	if env, err = StartEnv(root, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return bin, dir, env
}
