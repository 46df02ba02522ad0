// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// The manager's memory grows with the ChatHubs, not with the cluster:
//
//   - ChatHubs are cached in full.
//   - The kinds the operator creates (Secrets, Deployments, StatefulSets,
//     Services, Ingresses, PodDisruptionBudgets) are cached only when they carry
//     app.kubernetes.io/managed-by=chathub-operator, which every object
//     the operator creates has (Labels). An object under a wanted name
//     that is not in the cache is found by the create, refused with
//     AlreadyExists, and reported as ObjectNotOwned (chathub_ownership.go).
//   - Secrets a ChatHub references (spec.webPubSub.connectionStringSecretRef)
//     are read with the uncached APIReader when a ChatHub is reconciled, and
//     their changes are noticed by a metadata-only watch of Secrets in a
//     cache of its own (referencedCache), which keeps only name, namespace
//     and resourceVersion: no data, labels or annotations (kubectl apply's
//     last-applied-configuration holds a Secret's data).
//   - Managed fields are stripped from everything cached.

// CacheOptions returns the options of the manager's cache: objects of the
// kinds the operator creates only when they carry the operator's
// managed-by label, managed fields stripped. namespaces limits the cache
// to those namespaces; none means all. The manager of the 'manager'
// subcommand and the envtest suite use it.
func CacheOptions(namespaces []string) cache.Options {
	owned := cache.ByObject{Label: labels.SelectorFromSet(labels.Set{"app.kubernetes.io/managed-by": managerName})}
	return cache.Options{
		DefaultNamespaces: namespaceConfigs(namespaces),
		DefaultTransform:  cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:                owned,
			&appsv1.Deployment{}:            owned,
			&appsv1.StatefulSet{}:           owned,
			&corev1.Service{}:               owned,
			&networkingv1.Ingress{}:         owned,
			&networkingv1.NetworkPolicy{}:   owned,
			&policyv1.PodDisruptionBudget{}: owned,
		},
	}
}

func namespaceConfigs(namespaces []string) map[string]cache.Config {
	if len(namespaces) == 0 {
		return nil
	}
	out := make(map[string]cache.Config, len(namespaces))
	for _, n := range namespaces {
		out[n] = cache.Config{}
	}
	return out
}

// identityOnly keeps of a cached object only what names it and tells a
// change: namespace, name, UID and resourceVersion.
func identityOnly(in any) (any, error) {
	m, ok := in.(*metav1.PartialObjectMetadata)
	if !ok {
		return in, nil
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta: m.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion,
		},
	}, nil
}

// referencedCache starts a cache of its own for the metadata of the kinds
// sources reference (referencedKinds) and returns the sources that watch
// them: the manager's cache holds only the operator's own Secrets, so it
// cannot see a user's Secret change.
func (r *ChatHubReconciler) referencedCache(mgr ctrl.Manager) ([]source.Source, error) {
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		HTTPClient:        mgr.GetHTTPClient(),
		DefaultNamespaces: namespaceConfigs(r.WatchNamespaces),
		DefaultTransform:  identityOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the cache of referenced objects: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, fmt.Errorf("adding the cache of referenced objects: %w", err)
	}
	srcs := make([]source.Source, 0, len(referencedKinds))
	for _, k := range referencedKinds {
		if !k.metadataOnly {
			continue
		}
		gvk, err := mgr.GetClient().GroupVersionKindFor(k.obj)
		if err != nil {
			return nil, err
		}
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(gvk)
		srcs = append(srcs, source.Kind(c, client.Object(meta), handler.EnqueueRequestsFromMapFunc(r.hubsReferencing(k.kind))))
	}
	return srcs, nil
}
