// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestCacheHoldsOnlyOwnedSecrets shows that the manager's cache (configured
// with CacheOptions, as in production) holds the Secrets the operator
// manages and none of the others: a Secret without the managed-by label,
// created before a labelled one, is still absent once the labelled one is
// cached (the watch delivers in order).
func TestCacheHoldsOnlyOwnedSecrets(t *testing.T) {
	ns := newNamespace(t)
	unrelated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: ns}, StringData: map[string]string{"k": "v"}}
	mustCreate(t, unrelated)
	owned := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "owned", Namespace: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": managerName}}}
	mustCreate(t, owned)

	cached := suite.rec.Client // reads through the manager's cache
	eventually(t, 10*time.Second, "the labelled Secret is cached", func() error {
		return cached.Get(suite.ctx, types.NamespacedName{Namespace: ns, Name: "owned"}, &corev1.Secret{})
	})
	err := cached.Get(suite.ctx, types.NamespacedName{Namespace: ns, Name: "unrelated"}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("reading the unrelated Secret through the cache: %v, want NotFound (it must not be cached)", err)
	}
	if err := suite.rec.APIReader.Get(suite.ctx, types.NamespacedName{Namespace: ns, Name: "unrelated"}, &corev1.Secret{}); err != nil {
		t.Fatalf("reading the unrelated Secret from the API server: %v", err)
	}
}
