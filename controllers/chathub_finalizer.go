// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// ensureFinalizer adds the finalizer to ChatHubs whose handler the operator
// registers; a source that registers nothing (a connection string, or
// registration Manual) needs none.
func (r *ChatHubReconciler) ensureFinalizer(ctx context.Context, hub *chatv1.ChatHub) error {
	if !sourceFor(hub).Registers() || controllerutil.ContainsFinalizer(hub, Finalizer) ||
		(hub.Spec.EventHandler.Registration == chatv1.RegistrationManual && len(hub.Status.RegisteredEventHandlers) == 0) {
		return nil
	}
	patch := client.MergeFromWithOptions(hub.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(hub, Finalizer)
	return r.Patch(ctx, hub, patch)
}

// finalize removes every event handler this ChatHub registered from the
// service, then the finalizer. A long-running removal is kept in
// status.pendingOperation and polled at the next attempt.
// When the service stays unreachable it retries with backoff for
// DeleteTimeout, then records what was left behind and lets go. When the
// service is deleted with the ChatHub (embedded), one attempt is enough.
func (r *ChatHubReconciler) finalize(ctx context.Context, hub *chatv1.ChatHub) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(hub, Finalizer) {
		return ctrl.Result{}, nil
	}
	src := sourceFor(hub)
	conn, err := src.Existing(ctx, r)
	if err != nil {
		return ctrl.Result{}, err
	}
	hubName := EffectiveHub(hub)
	conflict, err := r.checkHubOwnership(ctx, hub, conn)
	if err != nil {
		return ctrl.Result{}, err
	}
	var pending *chatv1.PendingOperation
	var next time.Duration
	gone := conflict == nil && src.ServiceGone(ctx, r)
	if conflict == nil && !gone {
		octx, cancel := context.WithTimeout(ctx, cmp.Or(r.ReconcileTimeout, 30*time.Second))
		defer cancel()
		pending, next, err = r.unregister(octx, hub, src, conn)
	}
	switch {
	case conflict != nil:
		// It never registered: the hub and its settings belong to another ChatHub.
	case gone:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeNormal, chatv1.ReasonUnregistered, "Unregister",
			"%s is gone or being deleted: the event handler of hub %s goes with it", src.Service(), hubName)
	case err == nil && pending != nil && r.now().Sub(hub.DeletionTimestamp.Time) < r.DeleteTimeout:
		if !equality.Semantic.DeepEqual(pending, hub.Status.PendingOperation) {
			patch := client.MergeFrom(hub.DeepCopy())
			hub.Status.PendingOperation = pending
			if err := r.Status().Patch(ctx, hub, patch); err != nil {
				return ctrl.Result{}, fmt.Errorf("recording the removal operation: %w", err)
			}
		}
		return ctrl.Result{RequeueAfter: max(next, r.RetryMin)}, nil
	case err == nil && pending != nil:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeWarning, chatv1.ReasonUnregisterFailed, "Unregister",
			"Gave up waiting for the removal of the event handler %s of hub %s from %s after %s; check it by hand",
			ourHandlers(hub), hubName, src.Service(), r.DeleteTimeout)
	case err == nil:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeNormal, chatv1.ReasonUnregistered, "Unregister",
			"Removed the event handler of hub %s", hubName)
	case src.DeletedWithHub() != "":
		r.Recorder.Eventf(hub, nil, corev1.EventTypeNormal, chatv1.ReasonUnregisterFailed, "Unregister",
			"Could not remove the event handler of hub %s (%v); %s is deleted with the ChatHub", hubName, err, src.DeletedWithHub())
	case r.now().Sub(hub.DeletionTimestamp.Time) >= r.DeleteTimeout:
		r.Recorder.Eventf(hub, nil, corev1.EventTypeWarning, chatv1.ReasonUnregisterFailed, "Unregister",
			"Gave up removing the event handler %s of hub %s from %s after %s: %v; remove it by hand",
			ourHandlers(hub), hubName, src.Service(), r.DeleteTimeout, err)
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

// ourHandlers lists, for messages, the handler URLs of hub the service may
// still hold.
func ourHandlers(hub *chatv1.ChatHub) string {
	urls := append([]string{EventHandlerURL(hub)}, previousHandlers(hub)...)
	slices.Sort(urls)
	return strings.Join(slices.Compact(urls), ",")
}
