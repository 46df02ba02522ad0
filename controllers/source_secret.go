// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// secretSource is spec.webPubSub.connectionStringSecretRef: a connection
// string in the user's Secret, copied into the connection Secret. A
// connection string gives no access to the hub-settings API, so the user
// registers the event handler by hand.
type secretSource struct {
	hub *chatv1.ChatHub
	// ref is nil only for a spec the API server would not admit.
	ref *chatv1.SecretKeySelector
}

func (secretSource) Kind() chatv1.SourceKind { return chatv1.SourceConnectionString }

// References is the user's Secret, so that rotating it reaches the chat
// server.
func (s secretSource) References() []sourceRef {
	if s.ref == nil {
		return nil
	}
	return []sourceRef{{kind: "Secret", name: s.ref.Name}}
}

// Resolve reads and parses the connection string in the user's Secret.
func (s secretSource) Resolve(ctx context.Context, r *ChatHubReconciler) (*connection, error) {
	if s.ref == nil {
		return nil, &problem{reason: chatv1.ReasonSourceSecretNotFound, message: "spec.webPubSub names no source"}
	}
	ref, namespace := *s.ref, s.hub.Namespace
	key := ref.Key
	if key == "" {
		key = SecretKeyConnectionString
	}
	// The user's Secret is not in the cache (CacheOptions holds only the
	// operator's own Secrets): read it from the API server.
	var reader client.Reader = r.Client
	if r.APIReader != nil {
		reader = r.APIReader
	}
	var sec corev1.Secret
	if err := reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &problem{reason: chatv1.ReasonSourceSecretNotFound,
				message: fmt.Sprintf("Secret %q named in spec.webPubSub.connectionStringSecretRef does not exist in namespace %q", ref.Name, namespace)}
		}
		return nil, fmt.Errorf("getting Secret %s: %w", ref.Name, err)
	}
	raw, ok := sec.Data[key]
	if !ok || len(raw) == 0 {
		return nil, &problem{reason: chatv1.ReasonSourceSecretKeyMissing,
			message: fmt.Sprintf("Secret %q has no key %q (or it is empty)", ref.Name, key)}
	}
	cs, err := webpubsub.ParseConnectionString(string(raw))
	if err != nil {
		return nil, &problem{reason: chatv1.ReasonInvalidConnectionString,
			message: fmt.Sprintf("Secret %q key %q does not hold a valid Web PubSub connection string: %v", ref.Name, key, err)}
	}
	return &connection{cs: cs}, nil
}

func (secretSource) Existing(context.Context, *ChatHubReconciler) (*connection, error) {
	return nil, nil
}

func (secretSource) EnsureObjects(context.Context, *ChatHubReconciler, string) ([]namedDeployment, error) {
	return nil, nil
}

func (secretSource) ChatServerArgs() []string { return nil }

// InternalEventHandler is nil: the service may be anywhere, so it calls the
// handler where the chat is published.
func (secretSource) InternalEventHandler() map[string]string { return nil }

func (secretSource) Registers() bool { return false }

// ManualRegistration names the handler to register, the hub and the
// service, and the source that would let the operator do it.
func (secretSource) ManualRegistration(h webpubsub.EventHandlerSettings, hub string, conn *connection) string {
	endpoint := "the service"
	if conn != nil {
		endpoint = conn.cs.Endpoint.String()
	}
	return fmt.Sprintf("A connection string source cannot register event handlers: %s by hand, "+
		"then set spec.eventHandler.registration to Manual to declare it done (or use spec.webPubSub.azure)",
		manualHandler(h, hub, endpoint))
}

func (secretSource) HubSettings(*ChatHubReconciler, *connection) (HubSettingsClient, error) {
	return nil, nil
}

func (secretSource) DeletedWithHub() string { return "" }

// ServiceGone is false: the service is not an object the operator watches
// (embedded: DeletedWithHub covers it).
func (secretSource) ServiceGone(context.Context, *ChatHubReconciler) bool { return false }

func (s secretSource) Service() string { return statusEndpoint(s.hub) }

// ServiceKeys is the endpoint, known once the user's Secret has been read
// (from conn, or status.endpoint after a reconcile recorded it).
func (s secretSource) ServiceKeys(conn *connection) []string { return endpointKeys(s.hub, conn) }
