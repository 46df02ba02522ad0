// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// embeddedSource is spec.webPubSub.embedded: the operator runs ChatHub's own
// PubSub service for the hub, with a key it generates and keeps in the
// connection Secret, and registers the handler with the service's
// hub-settings API, signed with that key.
type embeddedSource struct {
	hub  *chatv1.ChatHub
	spec *chatv1.EmbeddedSource
}

func (embeddedSource) Kind() chatv1.SourceKind { return chatv1.SourceEmbedded }

func (embeddedSource) References() []sourceRef { return nil }

// Resolve reuses the key already in the connection Secret, so the key is
// stable across reconciles, or generates one.
func (s embeddedSource) Resolve(ctx context.Context, r *ChatHubReconciler) (*connection, error) {
	var sec corev1.Secret
	key := types.NamespacedName{Namespace: s.hub.Namespace, Name: ConnectionSecretName(s.hub)}
	err := r.Get(ctx, key, &sec)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		// The cache may not have seen the Secret written a moment ago; a new
		// key would roll the pods and lose the service's settings.
		err = r.APIReader.Get(ctx, key, &sec)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("getting the connection Secret: %w", err)
	}
	accessKey := string(sec.Data[SecretKeyAccessKey])
	if len(accessKey) < 32 {
		if accessKey, err = webpubsub.NewAccessKey(); err != nil {
			return nil, err
		}
	}
	settings, err := embeddedSettings(s.hub)
	if err != nil {
		return nil, err
	}
	cs := &webpubsub.ConnectionString{Endpoint: EmbeddedEndpoint(s.hub), AccessKey: accessKey, Version: "1.0"}
	return &connection{cs: cs, accessKey: accessKey, settings: settings}, nil
}

// embeddedSettings is the settings file the hub's PubSub service starts
// with: the hub's event handler, as the registration step writes it, or no
// hub when the user registers the handler (registration Manual). A pod
// that starts after a rollout or a crash serves the handler at once instead
// of dropping events until the next registration check.
func embeddedSettings(hub *chatv1.ChatHub) ([]byte, error) {
	var hubs []instanceHub
	if hub.Spec.EventHandler.Registration != chatv1.RegistrationManual {
		hubs = []instanceHub{{name: EffectiveHub(hub), owner: hub, handler: DesiredEventHandler(hub)}}
	}
	b, err := buildInstanceSettings(hubs)
	if err != nil {
		return nil, fmt.Errorf("encoding the PubSub service's hub settings: %w", err)
	}
	return b, nil
}

// Existing reads the service's key from the connection Secret; nil when
// there is none.
func (s embeddedSource) Existing(ctx context.Context, r *ChatHubReconciler) (*connection, error) {
	var sec corev1.Secret
	err := r.Get(ctx, types.NamespacedName{Namespace: s.hub.Namespace, Name: ConnectionSecretName(s.hub)}, &sec)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting the connection Secret: %w", err)
	}
	key := string(sec.Data[SecretKeyAccessKey])
	if key == "" {
		return nil, nil
	}
	return &connection{accessKey: key}, nil
}

// EnsureObjects applies the PubSub service's Deployment and Service.
func (s embeddedSource) EnsureObjects(ctx context.Context, r *ChatHubReconciler, hash string) ([]namedDeployment, error) {
	d, err := r.applyDeployment(ctx, s.hub, buildEmbeddedDeployment(s.hub, s.spec, r.image(s.hub), hash))
	if err != nil {
		return nil, fmt.Errorf("applying the PubSub service Deployment: %w", err)
	}
	if err := r.applyService(ctx, s.hub, buildService(s.hub, EmbeddedName(s.hub), componentPubSub, EmbeddedPort)); err != nil {
		return nil, fmt.Errorf("applying the PubSub service Service: %w", err)
	}
	return []namedDeployment{{what: "PubSub service", d: d}}, nil
}

// ChatServerArgs makes the chat server proxy client WebSockets: browsers
// cannot reach the service's in-cluster endpoint.
func (embeddedSource) ChatServerArgs() []string { return []string{"--proxy-client"} }

// InternalEventHandler selects the pods of the PubSub service Deployment.
func (s embeddedSource) InternalEventHandler() map[string]string {
	return selectorLabels(s.hub, componentPubSub)
}

func (embeddedSource) Registers() bool { return true }

func (embeddedSource) ManualRegistration(webpubsub.EventHandlerSettings, string, *connection) string {
	return ""
}

// HubSettings opens the service's hub-settings API with its access key; nil
// while the key is not known.
func (s embeddedSource) HubSettings(r *ChatHubReconciler, conn *connection) (HubSettingsClient, error) {
	return pubSubHubSettings(r, EmbeddedEndpoint(s.hub).String(), EmbeddedResourceID(s.hub), conn)
}

func (embeddedSource) DeletedWithHub() string { return "the PubSub service" }

// ServiceGone is false: the service is not an object the operator watches
// (embedded: DeletedWithHub covers it).
func (embeddedSource) ServiceGone(context.Context, *ChatHubReconciler) bool { return false }

func (s embeddedSource) Service() string { return statusEndpoint(s.hub) }

// ServiceKeys is the endpoint of the ChatHub's own service: no other
// embedded ChatHub shares it, but a connection string may point at it.
func (s embeddedSource) ServiceKeys(*connection) []string {
	return []string{endpointKey(EmbeddedEndpoint(s.hub).String())}
}

// EmbeddedResourceID is the resource the PubSub service of hub answers to.
// The PubSub service serves one resource; the ID only shapes the URL.
func EmbeddedResourceID(hub *chatv1.ChatHub) webpubsub.ResourceID {
	return webpubsub.ResourceID{SubscriptionID: "00000000-0000-0000-0000-000000000000", ResourceGroup: hub.Namespace, Name: EmbeddedName(hub)}
}
