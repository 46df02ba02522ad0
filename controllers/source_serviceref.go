// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"net/url"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// serviceRefSource is spec.webPubSub.serviceRef: a shared PubSub service
// instance (a WebPubSubService, webpubsubservice_controller.go) serves the
// hub. The connection uses the instance's active key from its keys Secret;
// the handler is registered live with the instance's hub-settings API, as
// for an embedded source, and the instance's controller also keeps it in
// the settings Secret the service loads at start.
type serviceRefSource struct {
	hub *chatv1.ChatHub
	ref *chatv1.ServiceReference
}

func (serviceRefSource) Kind() chatv1.SourceKind { return chatv1.SourceServiceRef }

// References are the instance (its active key and endpoint) and its keys
// Secret.
func (s serviceRefSource) References() []sourceRef {
	return []sourceRef{{kind: "WebPubSubService", name: s.ref.Name}, {kind: "Secret", name: InstanceKeysSecretName(s.ref.Name)}}
}

// Resolve reads the instance and the key it says is active.
func (s serviceRefSource) Resolve(ctx context.Context, r *ChatHubReconciler) (*connection, error) {
	var svc chatv1.WebPubSubService
	if err := r.Get(ctx, types.NamespacedName{Namespace: s.hub.Namespace, Name: s.ref.Name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &problem{reason: chatv1.ReasonServiceNotFound,
				message: fmt.Sprintf("WebPubSubService %q named in spec.webPubSub.serviceRef does not exist in namespace %q", s.ref.Name, s.hub.Namespace)}
		}
		return nil, fmt.Errorf("getting WebPubSubService %s: %w", s.ref.Name, err)
	}
	var sec corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: s.hub.Namespace, Name: InstanceKeysSecretName(s.ref.Name)}, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &problem{reason: chatv1.ReasonServiceNotFound, retry: true,
				message: fmt.Sprintf("WebPubSubService %q has no keys Secret yet", s.ref.Name)}
		}
		return nil, fmt.Errorf("getting the keys Secret of WebPubSubService %s: %w", s.ref.Name, err)
	}
	if !metav1.IsControlledBy(&sec, &svc) {
		return nil, &problem{reason: chatv1.ReasonServiceNotFound, retry: true,
			message: fmt.Sprintf("Secret %s is not the keys Secret of WebPubSubService %q", sec.Name, s.ref.Name)}
	}
	key := string(sec.Data[instanceKeyField(activeKey(&svc))])
	if len(key) < 32 {
		return nil, &problem{reason: chatv1.ReasonServiceNotFound, retry: true,
			message: fmt.Sprintf("WebPubSubService %q has no %s key yet", s.ref.Name, activeKey(&svc))}
	}
	cs := &webpubsub.ConnectionString{Endpoint: s.endpoint(), AccessKey: key, Version: "1.0"}
	return &connection{cs: cs, accessKey: key}, nil
}

// Existing reads the key from the connection Secret, as an embedded source
// does: the instance may be gone while the ChatHub is deleted.
func (s serviceRefSource) Existing(ctx context.Context, r *ChatHubReconciler) (*connection, error) {
	return embeddedSource{hub: s.hub}.Existing(ctx, r)
}

// EnsureObjects applies nothing (the instance's controller runs the
// service) but returns the instance's Deployment, so that ServerAvailable
// waits for the service as it does for an embedded one.
func (s serviceRefSource) EnsureObjects(ctx context.Context, r *ChatHubReconciler, _ string) ([]namedDeployment, error) {
	var d appsv1.Deployment
	err := r.Get(ctx, types.NamespacedName{Namespace: s.hub.Namespace, Name: s.ref.Name}, &d)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting the Deployment of WebPubSubService %s: %w", s.ref.Name, err)
	}
	if c := metav1.GetControllerOf(&d); c == nil || c.Kind != "WebPubSubService" || c.Name != s.ref.Name {
		return nil, nil // not the instance's: its own status says so
	}
	return []namedDeployment{{what: "PubSub service " + s.ref.Name, d: &d}}, nil
}

// ChatServerArgs makes the chat server proxy client WebSockets: browsers
// cannot reach the instance's in-cluster endpoint.
func (serviceRefSource) ChatServerArgs() []string { return []string{"--proxy-client"} }

// InternalEventHandler selects the pods of the instance.
func (s serviceRefSource) InternalEventHandler() map[string]string {
	return instanceSelector(&chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: s.ref.Name}})
}

func (serviceRefSource) Registers() bool { return true }

func (serviceRefSource) ManualRegistration(webpubsub.EventHandlerSettings, string, *connection) string {
	return ""
}

// HubSettings opens the instance's hub-settings API with the key of the
// connection.
func (s serviceRefSource) HubSettings(r *ChatHubReconciler, conn *connection) (HubSettingsClient, error) {
	return pubSubHubSettings(r, s.endpoint().String(), InstanceResourceID(s.hub.Namespace, s.ref.Name), conn)
}

// DeletedWithHub is "": the instance outlives the ChatHub, so deleting the
// ChatHub removes its handler.
func (serviceRefSource) DeletedWithHub() string { return "" }

// ServiceGone is true when the instance no longer exists or is being
// deleted: its handlers go with it (deleting a namespace deletes the
// instance and its ChatHubs together).
func (s serviceRefSource) ServiceGone(ctx context.Context, r *ChatHubReconciler) bool {
	var svc chatv1.WebPubSubService
	err := r.Get(ctx, types.NamespacedName{Namespace: s.hub.Namespace, Name: s.ref.Name}, &svc)
	return apierrors.IsNotFound(err) || (err == nil && !svc.DeletionTimestamp.IsZero())
}

func (s serviceRefSource) Service() string { return "WebPubSubService " + s.ref.Name }

// ServiceKeys is the instance's endpoint: ChatHubs with the same hub on one
// instance conflict.
func (s serviceRefSource) ServiceKeys(*connection) []string {
	return []string{endpointKey(s.endpoint().String())}
}

func (s serviceRefSource) endpoint() *url.URL { return InstanceEndpoint(s.hub.Namespace, s.ref.Name) }

// pubSubHubSettings opens the ARM-shaped hub-settings API of a PubSub
// service the operator runs (embedded or an instance), signed with the
// access key of conn; nil while the key is not known.
func pubSubHubSettings(r *ChatHubReconciler, endpoint string, res webpubsub.ResourceID, conn *connection) (HubSettingsClient, error) {
	if conn == nil || conn.accessKey == "" {
		return nil, nil
	}
	return r.Registrar.HubsClient(RegistrationTarget{BaseURL: endpoint, Resource: res, Tokens: webpubsub.AccessKeyTokenSource(conn.accessKey)})
}

// instanceChanged lets through the changes of a WebPubSubService that its
// ChatHubs act on: creation, deletion, the active key, and its Available
// condition changing, so that the ChatHubs check their handlers at once
// when a restarted service pod becomes available (a hub created while it
// restarted is registered then, not at the next periodic re-check). Hub
// counts and other status changes, which come with every ChatHub, are not.
func instanceChanged() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*chatv1.WebPubSubService)
		n, ok2 := e.ObjectNew.(*chatv1.WebPubSubService)
		return !ok1 || !ok2 || activeKey(o) != activeKey(n) ||
			meta.IsStatusConditionTrue(o.Status.Conditions, chatv1.ConditionAvailable) != meta.IsStatusConditionTrue(n.Status.Conditions, chatv1.ConditionAvailable)
	}}
}
