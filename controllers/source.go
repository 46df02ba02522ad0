// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// connectionSource is where a ChatHub's Web PubSub service and connection
// come from (spec.webPubSub). Everything that differs between the kinds of
// source is behind this interface, one implementation per file
// (source_embedded.go, source_secret.go, source_azure.go,
// source_serviceref.go); the rest of the
// controller never asks which kind it has. Adding a kind is a new file and a
// case in sourceFor.
//
// Methods that read the cluster or call the service take the reconciler for
// its clients; the others depend on the ChatHub alone.
type connectionSource interface {
	// Kind is the value of status.source (the Source printer column).
	Kind() chatv1.SourceKind
	// References are the objects in the ChatHub's namespace the source
	// reads; a change to one of them reconciles the ChatHub.
	References() []sourceRef

	// Resolve returns the connection: the connection string the chat
	// server uses and whatever else the connection Secret must hold. A
	// *problem is for the user to fix (condition ConnectionSecretReady);
	// other errors are transient.
	Resolve(ctx context.Context, r *ChatHubReconciler) (*connection, error)
	// Existing is what HubSettings needs of the connection, read from the
	// connection Secret without generating or fetching anything (while the
	// ChatHub is deleted); nil when the source needs nothing or nothing is
	// there.
	Existing(ctx context.Context, r *ChatHubReconciler) (*connection, error)

	// EnsureObjects applies the objects the source runs beside the chat
	// server, given the hash of the connection Secret, and returns their
	// Deployments, whose availability is part of condition ServerAvailable.
	EnsureObjects(ctx context.Context, r *ChatHubReconciler, hash string) ([]namedDeployment, error)
	// ChatServerArgs are the chat server's extra command-line arguments.
	ChatServerArgs() []string
	// InternalEventHandler is the pod selector of the PubSub service's
	// pods when the service runs in the cluster: the chat server then
	// serves its event handler (and metrics) on an internal port that a
	// NetworkPolicy keeps to those pods. Nil when the service is elsewhere
	// (Azure) and must reach the handler where the chat is published.
	InternalEventHandler() map[string]string

	// Registers reports whether the operator registers the event handler
	// with the service itself (and so removes it when the ChatHub is
	// deleted). When false, condition EventHandlerRegistered has reason
	// ManualRegistrationRequired and ManualRegistration its message.
	Registers() bool
	// ManualRegistration says, for a source that does not register, why
	// and what to register by hand: handler h for hub on the service of
	// conn (nil when the connection is not known). Only asked when
	// Registers is false.
	ManualRegistration(h webpubsub.EventHandlerSettings, hub string, conn *connection) string
	// HubSettings opens the client of the service's hub-settings API, given
	// the connection (nil while it is not known); nil when the operator has
	// no way to reach it (a plain connection string, no credential, no key
	// yet). A *problem is for the user to fix.
	HubSettings(r *ChatHubReconciler, conn *connection) (HubSettingsClient, error)

	// DeletedWithHub names the service, for messages, when the operator
	// runs it for this ChatHub alone and it is deleted with the ChatHub, so
	// removing the handler is tried once; "" when the service outlives the
	// ChatHub.
	DeletedWithHub() string
	// ServiceGone says, while the ChatHub is deleted, that the service
	// holding its handler is gone or being deleted (a WebPubSubService
	// deleted before its ChatHubs), so there is nothing left to remove.
	ServiceGone(ctx context.Context, r *ChatHubReconciler) bool
	// Service names the service the ChatHub uses, for messages.
	Service() string
	// ServiceKeys name the service for hub ownership (chathub_conflict.go):
	// two ChatHubs with a key in common use the same service. They depend
	// on the ChatHub (spec and status.endpoint) and on conn, the connection
	// just resolved (nil when unknown), so that the cache can index them.
	ServiceKeys(conn *connection) []string
}

// sourceFor returns the source of hub. The API server admits exactly one of
// the fields of spec.webPubSub.
func sourceFor(hub *chatv1.ChatHub) connectionSource {
	src := hub.Spec.WebPubSub
	switch {
	case src.Embedded != nil:
		return embeddedSource{hub: hub, spec: src.Embedded}
	case src.Azure != nil:
		return azureSource{hub: hub, spec: src.Azure}
	case src.ServiceRef != nil:
		return serviceRefSource{hub: hub, ref: src.ServiceRef}
	default:
		return secretSource{hub: hub, ref: src.ConnectionStringSecretRef}
	}
}

// SourceOf returns the kind of Web PubSub source hub uses.
func SourceOf(hub *chatv1.ChatHub) chatv1.SourceKind { return sourceFor(hub).Kind() }

// sourceRef names an object in a ChatHub's namespace that its source reads.
type sourceRef struct {
	// kind is a kind of referencedKinds.
	kind string
	name string
}

// indexValue is the value of sourceRefIndex for r.
func (r sourceRef) indexValue() string { return r.kind + "/" + r.name }

// referencedKinds are the kinds sources may reference. The controller
// watches each (it needs RBAC get, list and watch on it) and reconciles the
// ChatHubs that reference the object that changed. A kind the manager does
// not cache (a user's Secret: CacheOptions) is watched metadata-only in a
// cache of its own and read with the APIReader; the operator's own kinds
// are watched through the manager's cache.
var referencedKinds = []struct {
	kind string
	obj  client.Object
	// metadataOnly: not in the manager's cache; watched metadata-only.
	metadataOnly bool
	// only, when set, filters the object's events (full watches only).
	only predicate.Predicate
}{
	{kind: "Secret", obj: &corev1.Secret{}, metadataOnly: true},
	{kind: "WebPubSubService", obj: &chatv1.WebPubSubService{}, only: instanceChanged()},
}

// sourceRefIndex indexes ChatHubs by the objects their source references,
// as "<kind>/<name>".
const sourceRefIndex = ".spec.webPubSub.references"

// statusEndpoint names the service by the endpoint last seen, for messages.
func statusEndpoint(hub *chatv1.ChatHub) string {
	if hub.Status.Endpoint != "" {
		return hub.Status.Endpoint
	}
	return "the Web PubSub service"
}
