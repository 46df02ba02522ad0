// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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

// TestReferencedCacheKeepsIdentityOnly shows that the metadata cache of
// referenced Secrets keeps nothing that could hold Secret data, such as
// kubectl's last-applied-configuration annotation.
func TestReferencedCacheKeepsIdentityOnly(t *testing.T) {
	in := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "awps", UID: "u-1", ResourceVersion: "42",
			Labels:        map[string]string{"app": "x"},
			Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"connectionString":"secret"}}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
	}
	out, err := identityOnly(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &metav1.PartialObjectMetadata{
		TypeMeta:   in.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "awps", UID: "u-1", ResourceVersion: "42"},
	}
	if !equality.Semantic.DeepEqual(out, want) {
		t.Errorf("cached %+v, want %+v", out, want)
	}
}
