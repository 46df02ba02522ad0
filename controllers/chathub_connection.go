// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"time"

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
	// retry is true when the cause may go away by itself (an outside
	// service failed), so the reconcile looks again with backoff rather
	// than waiting for the user to change something.
	retry bool
	// wait, when set, is the wait the outside service asked for (429
	// Retry-After) instead of the backoff.
	wait time.Duration
}

func (p *problem) Error() string { return p.reason + ": " + p.message }

// connection is the resolved connection of a ChatHub. It holds the key:
// never log it or put it into status.
type connection struct {
	cs *webpubsub.ConnectionString
	// accessKey, when set, is written to the connection Secret too: the
	// key of a service the operator runs.
	accessKey string
	// settings, when set, is written to the connection Secret too: the hub
	// settings file a service the operator runs for the hub loads at start
	// and reloads, so a new pod serves the handler before any registration.
	settings []byte
}

// secretData is the data of the connection Secret for c.
func (c *connection) secretData() map[string][]byte {
	return buildConnectionSecretData(c.cs.Format(), c.accessKey, c.settings)
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
		if err := mustControl(hub, s, "Secret"); err != nil {
			return "", err
		}
		return ConnectionHash(s.Data), nil
	}
	data := conn.secretData()
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, s, func() error {
		if err := mustControl(hub, s, "Secret"); err != nil {
			return err
		}
		s.Labels = mergeLabels(s.Labels, Labels(hub, "connection"))
		s.Type = corev1.SecretTypeOpaque
		s.Data = data
		return ctrl.SetControllerReference(hub, s, r.Scheme)
	})
	if err := applyError("Secret", s.Name, err); err != nil {
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
