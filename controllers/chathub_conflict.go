// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// Hub ownership. Two ChatHubs, in any namespaces, that use the same hub
// (compared case-insensitively, as Web PubSub does) on the same service
// conflict: the oldest (creationTimestamp, then UID) owns the hub and every
// other one stands down with reason HubConflict.
//
// The service is named by keys each source computes from the ChatHub
// (connectionSource.ServiceKeys): the ARM resource ID of an Azure source,
// and the normalized endpoint of every source once it is known. The endpoint
// of a connection-string source is only known after reading the user's
// Secret, which a cache index cannot do, so the index reads it from
// status.endpoint: a conflict on a connection-string source is detected once
// the endpoint has been recorded (after its first successful reconcile).
// A ChatHub sees its own endpoint from the connection it resolved.
//
// A ChatHub that loses creates nothing for the hub beyond its own connection
// Secret: no chat server Deployment, Service or Ingress and no registration;
// it never deletes the hub's settings or touches the owner's handler, not
// even when it is deleted. What it did before it lost (both created within
// the same second, or before the cache saw the owner, or the owner moved to
// its service) is undone as far as it could harm the owner: its chat server
// Deployment is scaled to zero, so that its pods do not serve users the
// owner's hub, and the handler URL it registered is removed from the hub's
// settings (unless the owner uses the same URL); everything else it created
// is left alone. A ChatHub being deleted keeps the hub until it is gone, so it
// can remove its handler first; then the watch on ChatHubs reconciles the
// ChatHubs that shared a key with it, and the next oldest takes over.

// hubKeyIndex indexes ChatHubs by hubKeys.
const hubKeyIndex = ".status.hubKeys"

// hubKeys are the keys of hub's hub: "<service key>|<lower-case hub name>"
// for every service key of its source. conn is the connection just
// resolved, nil when unknown.
func hubKeys(hub *chatv1.ChatHub, conn *connection) []string {
	name := strings.ToLower(EffectiveHub(hub))
	var keys []string
	for _, s := range sourceFor(hub).ServiceKeys(conn) {
		if k := s + "|" + name; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// indexHubKeys is the index function of hubKeyIndex.
func indexHubKeys(o client.Object) []string {
	return hubKeys(o.(*chatv1.ChatHub), nil)
}

// endpointKeys is the service key of the endpoint of conn, or else of
// status.endpoint; nil when neither is known.
func endpointKeys(hub *chatv1.ChatHub, conn *connection) []string {
	raw := hub.Status.Endpoint
	if conn != nil && conn.cs != nil && conn.cs.Endpoint != nil {
		raw = conn.cs.Endpoint.String()
	}
	if raw == "" {
		return nil
	}
	return []string{endpointKey(raw)}
}

// endpointKey normalizes an endpoint: scheme and host in lower case,
// default ports and trailing slashes dropped.
func endpointKey(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "endpoint:" + strings.ToLower(strings.TrimRight(raw, "/"))
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return "endpoint:" + scheme + "://" + host + strings.TrimRight(u.EscapedPath(), "/")
}

// azureKey is the service key of an ARM resource ID.
func azureKey(resourceID string) string {
	return "arm:" + strings.ToLower(strings.TrimRight(strings.TrimSpace(resourceID), "/"))
}

// checkHubOwnership returns a HubConflict problem naming the owner when
// another, older ChatHub uses hub's hub on the same service; nil when hub
// owns it.
func (r *ChatHubReconciler) checkHubOwnership(ctx context.Context, hub *chatv1.ChatHub, conn *connection) (*problem, error) {
	owner, err := r.hubOwner(ctx, hub, conn)
	if err != nil || owner == hub {
		return nil, err
	}
	return conflictWith(hub, owner), nil
}

// conflictWith is the HubConflict problem of hub, whose hub owner owns.
func conflictWith(hub, owner *chatv1.ChatHub) *problem {
	return &problem{reason: chatv1.ReasonHubConflict, message: fmt.Sprintf(
		"Hub %s on this service belongs to ChatHub %s/%s, the oldest ChatHub for it: this ChatHub registers nothing and runs no chat server until that one is gone",
		EffectiveHub(hub), owner.Namespace, owner.Name)}
}

// hubOwner returns the oldest ChatHub among hub and the ChatHubs that share
// one of its hub keys: hub itself when it owns its hub.
func (r *ChatHubReconciler) hubOwner(ctx context.Context, hub *chatv1.ChatHub, conn *connection) (*chatv1.ChatHub, error) {
	owner := hub
	for _, key := range hubKeys(hub, conn) {
		var peers chatv1.ChatHubList
		if err := r.List(ctx, &peers, client.MatchingFields{hubKeyIndex: key}); err != nil {
			return nil, fmt.Errorf("listing the ChatHubs of hub %s: %w", EffectiveHub(hub), err)
		}
		for i := range peers.Items {
			if p := &peers.Items[i]; p.UID != hub.UID && older(p, owner) {
				owner = p.DeepCopy()
			}
		}
	}
	return owner, nil
}

// older reports whether a was created before b (the UID breaks ties).
func older(a, b *chatv1.ChatHub) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.UID < b.UID
}

// standDown scales the chat server Deployment hub controls, if any, to
// zero: hub lost its hub, and its pods must not serve users the owner's
// hub. Nothing else is touched.
func (r *ChatHubReconciler) standDown(ctx context.Context, hub *chatv1.ChatHub) error {
	var d appsv1.Deployment
	err := r.Get(ctx, types.NamespacedName{Namespace: hub.Namespace, Name: ChatServerName(hub)}, &d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting the chat server Deployment: %w", err)
	}
	if !metav1.IsControlledBy(&d, hub) || (d.Spec.Replicas != nil && *d.Spec.Replicas == 0) {
		return nil
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To[int32](0)
	if err := r.Patch(ctx, &d, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("scaling the chat server Deployment to zero: %w", err)
	}
	return nil
}

// standDownFrom is the loser's step: scale its chat server to zero,
// withdraw the handler it registered before it lost, and report the
// conflict.
func (r *ChatHubReconciler) standDownFrom(ctx context.Context, hub, owner *chatv1.ChatHub, src connectionSource, conn *connection) (*problem, registration, error) {
	conflict := conflictWith(hub, owner)
	if err := r.standDown(ctx, hub); err != nil {
		return nil, registration{}, err
	}
	reg := standingDown(hub, conflict)
	done, err := r.withdraw(ctx, hub, owner, src, conn)
	switch {
	case err != nil:
		logf.FromContext(ctx).Info("Withdrawing the event handler registered before the hub conflict", "hub", EffectiveHub(hub), "error", err.Error())
		reg.retry = true
	case done:
		reg.url = ""
	default:
		reg.retry = true // look again: the owner may have written the settings at the same time
	}
	return conflict, reg, nil
}

// withdraw removes the handler hub registered before it lost its hub
// (status.eventHandlerURL and registeredEventHandlers; it can happen when two ChatHubs are created
// within the same second or before the cache saw the owner) from the hub's
// settings, unless the owner uses the same URL. Nothing else in the
// settings changes, and they are never deleted: they are the owner's. It
// reports whether the URL is known to be gone, without writing.
func (r *ChatHubReconciler) withdraw(ctx context.Context, hub, owner *chatv1.ChatHub, src connectionSource, conn *connection) (bool, error) {
	var urls []string
	owners := append(previousHandlers(owner), EventHandlerURL(owner))
	for _, u := range previousHandlers(hub) {
		if !slices.Contains(owners, u) && !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 || !src.Registers() {
		return true, nil
	}
	hubs, err := src.HubSettings(r, conn)
	if err != nil || hubs == nil {
		return false, err
	}
	name := EffectiveHub(hub)
	current, err := hubs.Get(ctx, name)
	if webpubsub.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the settings of hub %s: %w", name, err)
	}
	rest, _ := withoutHandlers(current, urls)
	if len(rest.Properties.EventHandlers) == len(current.Properties.EventHandlers) {
		return true, nil
	}
	// Not waited for: the next reconcile reads the settings again.
	if _, _, err := hubs.BeginCreateOrUpdate(ctx, name, rest); err != nil {
		return false, fmt.Errorf("writing the settings of hub %s: %s", name, stableError(err))
	}
	return false, nil
}

// standingDown is the registration outcome of a ChatHub that does not
// register because of p (a conflict, an object it may not change, a spec
// the API server refused): the condition carries p's reason and message,
// and the URL registered before, if any, is kept in status.
func standingDown(hub *chatv1.ChatHub, p *problem) registration {
	return registration{status: metav1.ConditionFalse, reason: p.reason, message: p.message,
		url: hub.Status.EventHandlerURL, retry: p.retry}
}

// hubPeers maps a ChatHub to the other ChatHubs that share one of its hub
// keys, so that they look again when it is created, deleted or moves to
// another key (the owner going lets the next one take over).
func (r *ChatHubReconciler) hubPeers(ctx context.Context, o client.Object) []ctrl.Request {
	var reqs []ctrl.Request
	for _, key := range indexHubKeys(o) {
		var peers chatv1.ChatHubList
		if err := r.List(ctx, &peers, client.MatchingFields{hubKeyIndex: key}); err != nil {
			logf.FromContext(ctx).Error(err, "Listing the ChatHubs of a hub", "key", key)
			continue
		}
		for i := range peers.Items {
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&peers.Items[i])}
			if peers.Items[i].UID != o.GetUID() && !slices.Contains(reqs, req) {
				reqs = append(reqs, req)
			}
		}
	}
	return reqs
}

// hubPeersHandler enqueues the peers of a ChatHub that was created or
// deleted, or whose hub keys changed (status.endpoint was recorded).
func (r *ChatHubReconciler) hubPeersHandler() (handler.EventHandler, predicate.Predicate) {
	return handler.EnqueueRequestsFromMapFunc(r.hubPeers), predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !slices.Equal(indexHubKeys(e.ObjectOld), indexHubKeys(e.ObjectNew))
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
