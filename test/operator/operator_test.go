// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
)

// black is the environment of the black-box test: a real API server and
// the real 'chathub manager' binary built from this module.
type black struct {
	ctx context.Context
	env *Env
	mgr *Manager
}

func startBlack(t *testing.T) *black {
	t.Helper()
	bin, dir, env := startManagerEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logf, err := os.Create(filepath.Join(dir, "manager.log")) //nolint:gosec // G304: a file in the test's temporary folder
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("manager log:\n%s", b)
			}
		}
	})
	mgr, err := StartManager(ctx, bin, env.Kubeconfig, logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Stop)
	kubeletDone := make(chan struct{})
	go func() { FakeKubelet(ctx, env.Kube, 4); close(kubeletDone) }()
	t.Cleanup(func() { cancel(); <-kubeletDone })
	return &black{ctx: ctx, env: env, mgr: mgr}
}

func (b *black) namespace(t *testing.T, ns string) {
	t.Helper()
	if err := CreateNamespace(b.ctx, b.env.Kube, ns); err != nil {
		t.Fatal(err)
	}
}

func (b *black) create(t *testing.T, hub *unstructured.Unstructured) {
	t.Helper()
	if _, err := b.env.Dynamic.Resource(ChatHubs).Namespace(hub.GetNamespace()).Create(b.ctx, hub, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (b *black) secret(t *testing.T, s *corev1.Secret) {
	t.Helper()
	if _, err := b.env.Kube.CoreV1().Secrets(s.Namespace).Create(b.ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits until ChatHub ns/name has condition Ready with status
// and reason, and returns its message.
func (b *black) waitReady(t *testing.T, ns, name, status, reason string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var s, r, msg string
	for time.Now().Before(deadline) {
		if exited, err := b.mgr.Exited(); exited {
			t.Fatalf("the manager exited: %v", err)
		}
		hub, err := b.env.Dynamic.Resource(ChatHubs).Namespace(ns).Get(b.ctx, name, metav1.GetOptions{})
		if err == nil {
			if s, r, msg = Condition(hub, "Ready"); s == status && r == reason {
				return msg
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("ChatHub %s/%s: Ready is %q/%q (%s), want %s/%s", ns, name, s, r, msg, status, reason)
	return ""
}

// TestManagerBinary runs the real manager binary against a real API server.
func TestManagerBinary(t *testing.T) {
	b := startBlack(t)
	const endpoint = "http://127.0.0.1:1"

	t.Run("hub conflict across namespaces and case, released by deletion", func(t *testing.T) {
		for _, ns := range []string{"team-a", "team-b"} {
			b.namespace(t, ns)
			b.secret(t, ConnectionSecret(ns, "awps", endpoint))
		}
		b.create(t, ConnectionStringHub("team-a", "lobby", "", "awps"))
		b.waitReady(t, "team-a", "lobby", "True", "Ready")
		// Ownership goes to the oldest by creationTimestamp, which has a
		// resolution of a second (the UID breaks ties): create the other
		// one in a later second.
		owner, err := b.env.Dynamic.Resource(ChatHubs).Namespace("team-a").Get(b.ctx, "lobby", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(owner.GetCreationTimestamp().Add(1100 * time.Millisecond)))
		// Same service, same hub name in another case: Web PubSub hub names
		// are case-insensitive.
		b.create(t, ConnectionStringHub("team-b", "chat", "LOBBY", "awps"))
		msg := b.waitReady(t, "team-b", "chat", "False", "HubConflict")
		if !strings.Contains(msg, "team-a/lobby") {
			t.Errorf("HubConflict message %q does not name the owner team-a/lobby", msg)
		}
		if _, err := b.env.Kube.AppsV1().Deployments("team-b").Get(b.ctx, "chat", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the conflicting ChatHub has a chat server Deployment (err %v)", err)
		}
		// The owner is deleted: the other takes over with nobody touching it.
		if err := b.env.Dynamic.Resource(ChatHubs).Namespace("team-a").Delete(b.ctx, "lobby", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		b.waitReady(t, "team-b", "chat", "True", "Ready")
	})

	t.Run("no takeover of a Service it did not create", func(t *testing.T) {
		b.namespace(t, "takeover")
		b.secret(t, ConnectionSecret("takeover", "awps", "http://127.0.0.1:2"))
		svc, err := b.env.Kube.CoreV1().Services("takeover").Create(b.ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "takeover"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "theirs"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b.create(t, ConnectionStringHub("takeover", "api", "", "awps"))
		msg := b.waitReady(t, "takeover", "api", "False", "ObjectNotOwned")
		if !strings.Contains(msg, "Service api") {
			t.Errorf("ObjectNotOwned message %q does not name Service api", msg)
		}
		got, err := b.env.Kube.CoreV1().Services("takeover").Get(b.ctx, "api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.ResourceVersion != svc.ResourceVersion || len(got.OwnerReferences) != 0 || got.Spec.Selector["app"] != "theirs" {
			t.Errorf("the Service was changed: resourceVersion %s→%s, owners %v, selector %v",
				svc.ResourceVersion, got.ResourceVersion, got.OwnerReferences, got.Spec.Selector)
		}
	})

	t.Run("InvalidSpec carries the API server's message", func(t *testing.T) {
		b.namespace(t, "invalid")
		b.secret(t, ConnectionSecret("invalid", "awps", "http://127.0.0.1:3"))
		hub := ConnectionStringHub("invalid", "greedy", "", "awps")
		if err := unstructured.SetNestedMap(hub.Object, map[string]any{
			"resources": map[string]any{"requests": map[string]any{"cpu": "2"}, "limits": map[string]any{"cpu": "1"}},
		}, "spec", "server"); err != nil {
			t.Fatal(err)
		}
		b.create(t, hub)
		msg := b.waitReady(t, "invalid", "greedy", "False", "InvalidSpec")
		if !strings.Contains(msg, "must be less than or equal to cpu limit") {
			t.Errorf("InvalidSpec message %q does not carry the API server's reason", msg)
		}
	})

	t.Run("a referenced Secret created later is noticed", func(t *testing.T) {
		// The user's Secret is not in the manager's cache: only the
		// metadata watch of Secrets can tell the manager it appeared
		// (a missing Secret is not retried).
		b.namespace(t, "late")
		b.create(t, ConnectionStringHub("late", "waiting", "", "awps"))
		b.waitReady(t, "late", "waiting", "False", "SourceSecretNotFound")
		b.secret(t, ConnectionSecret("late", "awps", "http://127.0.0.1:4"))
		b.waitReady(t, "late", "waiting", "True", "Ready")
	})

	t.Run("few status writes while nothing changes", func(t *testing.T) {
		b.namespace(t, "quiet")
		const n = 10
		for i := range n {
			b.secret(t, ConnectionSecret("quiet", fmt.Sprintf("awps-%d", i), fmt.Sprintf("http://127.0.0.1:%d", 100+i)))
			b.create(t, ConnectionStringHub("quiet", fmt.Sprintf("hub-%d", i), "", fmt.Sprintf("awps-%d", i)))
		}
		for i := range n {
			b.waitReady(t, "quiet", fmt.Sprintf("hub-%d", i), "True", "Ready")
		}
		// Every ChatHub of the test (Ready, conflicting, not owned,
		// invalid) is watched for 5 s; each write changes resourceVersion.
		list, err := b.env.Dynamic.Resource(ChatHubs).List(b.ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := b.env.Dynamic.Resource(ChatHubs).Watch(b.ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		writes := map[string]int{}
		quiet := time.After(5 * time.Second)
	count:
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					t.Fatal("the watch ended early")
				}
				if ev.Type == watch.Modified {
					if u, ok := ev.Object.(*unstructured.Unstructured); ok {
						writes[u.GetNamespace()+"/"+u.GetName()]++
					}
				}
			case <-quiet:
				break count
			}
		}
		const most = 2
		for hub, c := range writes {
			if c > most {
				t.Errorf("ChatHub %s was written %d times in a quiet period of 5 s, want at most %d", hub, c, most)
			}
		}
		t.Logf("writes to %d ChatHubs in 5 s: %v", len(list.Items), writes)
	})
}
