// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// ensureFinalizer adds the finalizer to ChatHubs whose handler the operator
// registers; a connection string source registers nothing, so needs none.
func (r *ChatHubReconciler) ensureFinalizer(ctx context.Context, hub *chatv1.ChatHub) error {
	if SourceOf(hub) == chatv1.SourceConnectionString || controllerutil.ContainsFinalizer(hub, Finalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(hub.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(hub, Finalizer)
	return r.Patch(ctx, hub, patch)
}

// finalize removes the event handler from the service, then the finalizer.
// When the service stays unreachable it retries with backoff for
// DeleteTimeout, then records what was left behind and lets go. For an
// embedded source the service is deleted with the ChatHub, so one attempt is
// enough.
func (r *ChatHubReconciler) finalize(ctx context.Context, hub *chatv1.ChatHub) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(hub, Finalizer) {
		return ctrl.Result{}, nil
	}
	conn, err := r.existingEmbeddedConnection(ctx, hub)
	if err != nil {
		return ctrl.Result{}, err
	}
	hubName := EffectiveHub(hub)
	err = r.unregister(ctx, hub, conn)
	switch {
	case err == nil:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeNormal, chatv1.ReasonUnregistered, "Unregister",
			"Removed the event handler of hub %s", hubName)
	case SourceOf(hub) == chatv1.SourceEmbedded:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeNormal, chatv1.ReasonUnregisterFailed, "Unregister",
			"Could not remove the event handler of hub %s (%v); the PubSub service is deleted with the ChatHub", hubName, err)
	case r.now().Sub(hub.DeletionTimestamp.Time) >= r.DeleteTimeout:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeWarning, chatv1.ReasonUnregisterFailed, "Unregister",
			"Gave up removing the event handler %s of hub %s from %s after %s: %v; remove it by hand",
			hub.Status.EventHandlerURL, hubName, serviceOf(hub), r.DeleteTimeout, err)
	default:
		logf.FromContext(ctx).Info("Retrying removal of the event handler", "hub", hubName, "error", err.Error())
		return ctrl.Result{RequeueAfter: r.backoffSince(hub.DeletionTimestamp.Time)}, nil
	}
	patch := client.MergeFromWithOptions(hub.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(hub, Finalizer)
	if err := r.Patch(ctx, hub, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("removing the finalizer: %w", err)
	}
	return ctrl.Result{}, nil
}

// existingEmbeddedConnection reads the embedded service's key from the
// connection Secret; nil for other sources or when there is no key.
func (r *ChatHubReconciler) existingEmbeddedConnection(ctx context.Context, hub *chatv1.ChatHub) (*connection, error) {
	if SourceOf(hub) != chatv1.SourceEmbedded {
		return nil, nil
	}
	var s corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: hub.Namespace, Name: ConnectionSecretName(hub)}, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting the connection Secret: %w", err)
	}
	key := string(s.Data[SecretKeyAccessKey])
	if key == "" {
		return nil, nil
	}
	return &connection{accessKey: key}, nil
}

// serviceOf names the service hub registers with, for messages.
func serviceOf(hub *chatv1.ChatHub) string {
	if az := hub.Spec.WebPubSub.Azure; az != nil {
		return az.ResourceID
	}
	if hub.Status.Endpoint != "" {
		return hub.Status.Endpoint
	}
	return "the Web PubSub service"
}
