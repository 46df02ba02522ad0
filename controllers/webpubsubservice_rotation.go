// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// Key rotation. The PubSub service accepts tokens signed with either key,
// so a rotation never interrupts a chat if no chat server signs with the
// key being replaced when it changes:
//
//  1. The rotate-key annotation names the key to replace; the other one
//     becomes status.activeKey. The ChatHubs of the instance watch it and
//     write that key into their connection Secrets, which rolls their chat
//     servers (the connection hash on the pod template).
//  2. The operator waits until every chat server Deployment of those
//     ChatHubs is rolled out with a connection Secret holding the active
//     key and all its replicas are available.
//  3. It regenerates the named key, records status.lastKeyRotation and
//     removes the annotation.

// rotateKeys runs one step of the rotation the annotation asks for, if any.
func (r *WebPubSubServiceReconciler) rotateKeys(ctx context.Context, svc *chatv1.WebPubSubService, refs []chatv1.ChatHub, keys map[string]string, obs *instanceObservation) error {
	val, ok := svc.Annotations[chatv1.RotateKeyAnnotation]
	if !ok {
		return nil
	}
	var target chatv1.AccessKeyName
	switch strings.ToLower(strings.TrimSpace(val)) {
	case "primary":
		target = chatv1.AccessKeyPrimary
	case "secondary":
		target = chatv1.AccessKeySecondary
	default:
		r.Recorder.Eventf(svc, nil, corev1.EventTypeWarning, chatv1.ReasonInvalidRotateKey, "RotateKey",
			"Annotation %s must be primary or secondary; nothing is rotated", chatv1.RotateKeyAnnotation)
		return nil
	}
	want := otherKey(target)
	if obs.activeKey != want {
		obs.activeKey, obs.rotating = want, true
		return nil
	}
	done, err := r.chatServersOn(ctx, refs, keys[instanceKeyField(want)])
	if err != nil || !done {
		obs.rotating = true
		return err
	}
	if _, err := r.ensureKeys(ctx, svc, instanceKeyField(target)); err != nil {
		return err
	}
	obs.rotated = &chatv1.KeyRotation{Key: target, Time: metav1.NewTime(r.now())}
	r.Recorder.Eventf(svc, nil, corev1.EventTypeNormal, chatv1.ReasonKeyRotated, "RotateKey",
		"Regenerated the %s key; the chat servers use the %s key", strings.ToLower(string(target)), strings.ToLower(string(want)))
	return nil
}

// chatServersOn reports whether every running chat server of refs is rolled
// out, all replicas available, with a connection Secret holding key.
// ChatHubs being deleted, and those without a connection Secret or a
// running chat server (scaled to zero, standing down), sign nothing.
func (r *WebPubSubServiceReconciler) chatServersOn(ctx context.Context, refs []chatv1.ChatHub, key string) (bool, error) {
	for i := range refs {
		hub := &refs[i]
		if !hub.DeletionTimestamp.IsZero() {
			continue
		}
		var sec corev1.Secret
		err := r.Get(ctx, types.NamespacedName{Namespace: hub.Namespace, Name: ConnectionSecretName(hub)}, &sec)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("getting the connection Secret of ChatHub %s: %w", hub.Name, err)
		}
		if string(sec.Data[SecretKeyAccessKey]) != key {
			return false, nil
		}
		var d appsv1.Deployment
		err = r.Get(ctx, types.NamespacedName{Namespace: hub.Namespace, Name: ChatServerName(hub)}, &d)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("getting the chat server Deployment of ChatHub %s: %w", hub.Name, err)
		}
		if !metav1.IsControlledBy(&d, hub) || (d.Spec.Replicas != nil && *d.Spec.Replicas == 0) {
			continue
		}
		if !rolledOut(&d, ConnectionHash(sec.Data)) {
			return false, nil
		}
	}
	return true, nil
}

// rolledOut reports whether d runs only pods of the connection hash, all
// of them available.
func rolledOut(d *appsv1.Deployment, hash string) bool {
	n := int32(1)
	if d.Spec.Replicas != nil {
		n = *d.Spec.Replicas
	}
	st := d.Status
	return d.Spec.Template.Annotations[ConnectionHashAnnotation] == hash && st.ObservedGeneration >= d.Generation &&
		st.UpdatedReplicas == n && st.Replicas == n && st.AvailableReplicas >= n
}
