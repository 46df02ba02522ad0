// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// image is the chat server image of hub.
func (r *ChatHubReconciler) image(hub *chatv1.ChatHub) string {
	if hub.Spec.Server.Image != "" {
		return hub.Spec.Server.Image
	}
	return r.DefaultImage
}

// ensureChatServer applies the chat server Deployment and Service and returns
// the Deployment as stored.
func (r *ChatHubReconciler) ensureChatServer(ctx context.Context, hub *chatv1.ChatHub, hash string) (*appsv1.Deployment, error) {
	d, err := r.applyDeployment(ctx, hub, buildChatServerDeployment(hub, r.image(hub), hash))
	if err != nil {
		return nil, fmt.Errorf("applying the chat server Deployment: %w", err)
	}
	if err := r.applyService(ctx, hub, buildChatService(hub)); err != nil {
		return nil, fmt.Errorf("applying the chat server Service: %w", err)
	}
	if err := r.ensureEventHandlerPolicy(ctx, hub); err != nil {
		return nil, err
	}
	if err := r.ensurePodDisruptionBudget(ctx, hub); err != nil {
		return nil, err
	}
	return d, nil
}

// applyDeployment creates or patches a Deployment of hub to match want
// (applyOwnedDeployment).
func (r *ChatHubReconciler) applyDeployment(ctx context.Context, hub *chatv1.ChatHub, want *appsv1.Deployment) (*appsv1.Deployment, error) {
	return applyOwnedDeployment(ctx, r.Client, r.Scheme, hub, want)
}

// applyOwnedDeployment creates or patches a Deployment of owner to match
// want. The operator owns the spec (replicas, strategy, paused,
// minReadySeconds, the pod template, …) and puts it back when someone else
// edits it. Labels and annotations others add to the Deployment, and
// pod-template annotations others add (e.g. kubectl rollout restart), are
// kept; a pod annotation that came from podAnnotations
// (PodAnnotationsAnnotation) and left the spec is removed.
func applyOwnedDeployment(ctx context.Context, c client.Client, scheme *runtime.Scheme, owner client.Object, want *appsv1.Deployment) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, c, d, func() error {
		if err := mustControl(owner, d, "Deployment"); err != nil {
			return err
		}
		d.Labels = mergeLabels(d.Labels, want.Labels)
		if d.CreationTimestamp.IsZero() {
			d.Spec.Selector = want.Spec.Selector // immutable once created
		}
		d.Spec.Replicas = want.Spec.Replicas
		d.Spec.Strategy = want.Spec.Strategy
		d.Spec.Paused = want.Spec.Paused
		d.Spec.MinReadySeconds = want.Spec.MinReadySeconds
		d.Spec.RevisionHistoryLimit = want.Spec.RevisionHistoryLimit
		d.Spec.ProgressDeadlineSeconds = want.Spec.ProgressDeadlineSeconds

		annotations := d.Spec.Template.Annotations
		for _, k := range strings.Split(d.Annotations[PodAnnotationsAnnotation], ",") {
			delete(annotations, k) // set again below while still in the spec
		}
		annotations = mergeLabels(annotations, want.Spec.Template.Annotations)
		if v, ok := want.Annotations[PodAnnotationsAnnotation]; ok {
			d.Annotations = mergeLabels(d.Annotations, map[string]string{PodAnnotationsAnnotation: v})
		} else {
			delete(d.Annotations, PodAnnotationsAnnotation)
		}
		d.Spec.Template = *want.Spec.Template.DeepCopy()
		d.Spec.Template.Annotations = annotations
		return ctrl.SetControllerReference(owner, d, scheme)
	})
	return d, applyErrorOf(ownerKind(owner), "Deployment", want.Name, err)
}

// ensurePodDisruptionBudget applies the chat server's PodDisruptionBudget
// when it runs more than one replica, and deletes the one it made when it
// runs fewer.
func (r *ChatHubReconciler) ensurePodDisruptionBudget(ctx context.Context, hub *chatv1.ChatHub) error {
	return applyOwnedPDB(ctx, r.Client, r.Scheme, hub, ChatServerName(hub), buildPodDisruptionBudget(hub))
}

// applyOwnedPDB creates or patches want, the PodDisruptionBudget name of
// owner; a nil want deletes the one owner made (one others made stays).
func applyOwnedPDB(ctx context.Context, c client.Client, scheme *runtime.Scheme, owner client.Object, name string, want *policyv1.PodDisruptionBudget) error {
	if want == nil {
		var have policyv1.PodDisruptionBudget
		err := c.Get(ctx, types.NamespacedName{Namespace: owner.GetNamespace(), Name: name}, &have)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("getting the PodDisruptionBudget: %w", err)
		}
		if !metav1.IsControlledBy(&have, owner) {
			return nil
		}
		if err := c.Delete(ctx, &have); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the PodDisruptionBudget: %w", err)
		}
		return nil
	}
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, c, pdb, func() error {
		if err := mustControl(owner, pdb, "PodDisruptionBudget"); err != nil {
			return err
		}
		pdb.Labels = mergeLabels(pdb.Labels, want.Labels)
		pdb.Spec.MinAvailable = nil
		pdb.Spec.MaxUnavailable = want.Spec.MaxUnavailable
		pdb.Spec.Selector = want.Spec.Selector
		pdb.Spec.UnhealthyPodEvictionPolicy = want.Spec.UnhealthyPodEvictionPolicy
		return ctrl.SetControllerReference(owner, pdb, scheme)
	})
	return applyErrorOf(ownerKind(owner), "PodDisruptionBudget", want.Name, err)
}

// applyService creates or patches a Service of hub (applyOwnedService).
func (r *ChatHubReconciler) applyService(ctx context.Context, hub *chatv1.ChatHub, want *corev1.Service) error {
	return applyOwnedService(ctx, r.Client, r.Scheme, hub, want)
}

// applyOwnedService creates or patches a Service of owner; the fields the
// API server allocates (cluster IPs, node ports) are left alone.
func applyOwnedService(ctx context.Context, c client.Client, scheme *runtime.Scheme, owner client.Object, want *corev1.Service) error {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, c, s, func() error {
		if err := mustControl(owner, s, "Service"); err != nil {
			return err
		}
		s.Labels = mergeLabels(s.Labels, want.Labels)
		s.Spec.Type = want.Spec.Type
		if s.CreationTimestamp.IsZero() && want.Spec.ClusterIP == corev1.ClusterIPNone {
			s.Spec.ClusterIP = corev1.ClusterIPNone // headless; immutable once created
		}
		s.Spec.PublishNotReadyAddresses = want.Spec.PublishNotReadyAddresses
		s.Spec.Selector = want.Spec.Selector
		s.Spec.Ports = want.Spec.Ports
		return ctrl.SetControllerReference(owner, s, scheme)
	})
	return applyErrorOf(ownerKind(owner), "Service", want.Name, err)
}

// ensureIngress applies the Ingress when spec.ingress is set and deletes the
// one it made when spec.ingress is removed.
func (r *ChatHubReconciler) ensureIngress(ctx context.Context, hub *chatv1.ChatHub) error {
	want := buildIngress(hub)
	if want == nil {
		var have networkingv1.Ingress
		err := r.Get(ctx, types.NamespacedName{Namespace: hub.Namespace, Name: ChatServerName(hub)}, &have)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("getting the Ingress: %w", err)
		}
		if !metav1.IsControlledBy(&have, hub) {
			return nil
		}
		if err := r.Delete(ctx, &have); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the Ingress: %w", err)
		}
		return nil
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, ing, func() error {
		if err := mustControl(hub, ing, "Ingress"); err != nil {
			return err
		}
		ing.Labels = mergeLabels(ing.Labels, want.Labels)
		ing.Annotations = mergeLabels(ing.Annotations, want.Annotations)
		if want.Spec.IngressClassName != nil {
			ing.Spec.IngressClassName = want.Spec.IngressClassName
		}
		ing.Spec.Rules = want.Spec.Rules
		ing.Spec.TLS = want.Spec.TLS
		return ctrl.SetControllerReference(hub, ing, r.Scheme)
	})
	if err := applyError("Ingress", want.Name, err); err != nil {
		return fmt.Errorf("applying the Ingress: %w", err)
	}
	return nil
}

// ensureEventHandlerPolicy applies the NetworkPolicy of the chat server's
// internal port when the PubSub service runs in the cluster, and deletes the
// one it made when it does not.
func (r *ChatHubReconciler) ensureEventHandlerPolicy(ctx context.Context, hub *chatv1.ChatHub) error {
	want := buildEventHandlerPolicy(hub)
	if want == nil {
		var have networkingv1.NetworkPolicy
		err := r.Get(ctx, types.NamespacedName{Namespace: hub.Namespace, Name: EventHandlerPolicyName(hub)}, &have)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("getting the NetworkPolicy: %w", err)
		}
		if !metav1.IsControlledBy(&have, hub) {
			return nil
		}
		if err := r.Delete(ctx, &have); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the NetworkPolicy: %w", err)
		}
		return nil
	}
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, np, func() error {
		if err := mustControl(hub, np, "NetworkPolicy"); err != nil {
			return err
		}
		np.Labels = mergeLabels(np.Labels, want.Labels)
		np.Spec = want.Spec
		return ctrl.SetControllerReference(hub, np, r.Scheme)
	})
	if err := applyError("NetworkPolicy", want.Name, err); err != nil {
		return fmt.Errorf("applying the event handler NetworkPolicy: %w", err)
	}
	return nil
}
