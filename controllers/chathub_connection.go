// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// problem is a condition the user must fix (a missing Secret, a bad
// connection string, a refused registration). Its message never holds a key.
type problem struct {
	reason  string
	message string
}

func (p *problem) Error() string { return p.reason + ": " + p.message }

// connection is the resolved connection of a ChatHub. It holds the key:
// never log it or put it into status.
type connection struct {
	cs *webpubsub.ConnectionString
	// accessKey is set for the embedded source, whose service reads its key
	// from the connection Secret.
	accessKey string
}

// secretData is the data of the connection Secret for c.
func (c *connection) secretData() map[string][]byte {
	return buildConnectionSecretData(c.cs.Format(), c.accessKey)
}

// resolveConnection finds the connection string of hub: from the referenced
// Secret, from ARM listKeys (azure), or from the existing or a new generated
// key (embedded). A *problem is returned for what the user must fix; other
// errors are transient.
func (r *ChatHubReconciler) resolveConnection(ctx context.Context, hub *chatv1.ChatHub, hubs HubSettingsClient) (*connection, error) {
	src := hub.Spec.WebPubSub
	switch {
	case src.ConnectionStringSecretRef != nil:
		return r.connectionFromSecret(ctx, hub.Namespace, *src.ConnectionStringSecretRef)
	case src.Azure != nil:
		if hubs == nil {
			return nil, &problem{chatv1.ReasonCredentialUnavailable, "the operator has no Microsoft Entra credential (configure workload identity for its service account)"}
		}
		keys, err := hubs.ListKeys(ctx)
		if err != nil {
			return nil, &problem{chatv1.ReasonListKeysFailed, fmt.Sprintf("listing the keys of %s: %v", src.Azure.ResourceID, err)}
		}
		cs, err := webpubsub.ParseConnectionString(keys.PrimaryConnectionString)
		if err != nil {
			return nil, &problem{chatv1.ReasonInvalidConnectionString, fmt.Sprintf("the primary connection string returned by listKeys is not valid: %v", err)}
		}
		return &connection{cs: cs}, nil
	default:
		return r.embeddedConnection(ctx, hub)
	}
}

func (r *ChatHubReconciler) connectionFromSecret(ctx context.Context, namespace string, ref chatv1.SecretKeySelector) (*connection, error) {
	key := ref.Key
	if key == "" {
		key = SecretKeyConnectionString
	}
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &problem{chatv1.ReasonSourceSecretNotFound, fmt.Sprintf("Secret %q named in spec.webPubSub.connectionStringSecretRef does not exist in namespace %q", ref.Name, namespace)}
		}
		return nil, fmt.Errorf("getting Secret %s: %w", ref.Name, err)
	}
	raw, ok := s.Data[key]
	if !ok || len(raw) == 0 {
		return nil, &problem{chatv1.ReasonSourceSecretKeyMissing, fmt.Sprintf("Secret %q has no key %q (or it is empty)", ref.Name, key)}
	}
	cs, err := webpubsub.ParseConnectionString(string(raw))
	if err != nil {
		return nil, &problem{chatv1.ReasonInvalidConnectionString, fmt.Sprintf("Secret %q key %q does not hold a valid Web PubSub connection string: %v", ref.Name, key, err)}
	}
	return &connection{cs: cs}, nil
}

// embeddedConnection reuses the key already in the connection Secret, so the
// key is stable across reconciles, or generates one.
func (r *ChatHubReconciler) embeddedConnection(ctx context.Context, hub *chatv1.ChatHub) (*connection, error) {
	var s corev1.Secret
	key := types.NamespacedName{Namespace: hub.Namespace, Name: ConnectionSecretName(hub)}
	err := r.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		// The cache may not have seen the Secret written a moment ago; a new
		// key would roll the pods and lose the service's settings.
		err = r.APIReader.Get(ctx, key, &s)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("getting the connection Secret: %w", err)
	}
	accessKey := string(s.Data[SecretKeyAccessKey])
	if len(accessKey) < 32 {
		if accessKey, err = webpubsub.NewAccessKey(); err != nil {
			return nil, err
		}
	}
	cs := &webpubsub.ConnectionString{Endpoint: EmbeddedEndpoint(hub), AccessKey: accessKey, Version: "1.0"}
	return &connection{cs: cs, accessKey: accessKey}, nil
}

// ensureConnectionSecret writes the connection Secret when conn is known and
// returns the hash of the Secret's data as it now stands ("" when there is no
// Secret yet).
func (r *ChatHubReconciler) ensureConnectionSecret(ctx context.Context, hub *chatv1.ChatHub, conn *connection) (string, error) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ConnectionSecretName(hub), Namespace: hub.Namespace}}
	if conn == nil {
		// Keep what is there: the pods go on with the last good connection.
		if err := r.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, s); err != nil {
			if apierrors.IsNotFound(err) {
				return "", nil
			}
			return "", fmt.Errorf("getting the connection Secret: %w", err)
		}
		return ConnectionHash(s.Data), nil
	}
	data := conn.secretData()
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, s, func() error {
		s.Labels = mergeLabels(s.Labels, Labels(hub, "connection"))
		s.Type = corev1.SecretTypeOpaque
		s.Data = data
		return ctrl.SetControllerReference(hub, s, r.Scheme)
	})
	if err != nil {
		return "", fmt.Errorf("writing the connection Secret: %w", err)
	}
	return ConnectionHash(data), nil
}

// mergeLabels returns have with want applied (labels others set are kept).
func mergeLabels(have, want map[string]string) map[string]string {
	if have == nil {
		have = make(map[string]string, len(want))
	}
	for k, v := range want {
		have[k] = v
	}
	return have
}
