// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// azureSource is spec.webPubSub.azure: an Azure Web PubSub resource whose
// keys (ARM listKeys) and hub settings the operator reaches through ARM,
// signed in with Microsoft Entra ID.
type azureSource struct {
	hub  *chatv1.ChatHub
	spec *chatv1.AzureSource
}

func (azureSource) Kind() chatv1.SourceKind { return chatv1.SourceAzure }

func (azureSource) References() []sourceRef { return nil }

// Resolve reads the primary connection string with ARM listKeys, or from
// the reconciler's cache of listKeys results. Its problems are retried with
// backoff (or after the Retry-After of a 429): ARM or the credential may
// recover.
func (s azureSource) Resolve(ctx context.Context, r *ChatHubReconciler) (*connection, error) {
	hubs, err := s.HubSettings(r, nil)
	if err != nil {
		return nil, err
	}
	if hubs == nil {
		return nil, &problem{reason: chatv1.ReasonCredentialUnavailable, retry: true,
			message: "the operator has no Microsoft Entra credential (configure workload identity for its service account)"}
	}
	raw, ok := r.keys.get(s.cacheKey(), r.now(), cmp.Or(r.KeysTTL, 10*time.Minute))
	if !ok {
		keys, err := hubs.ListKeys(ctx)
		if err != nil {
			r.noteARMError(s.cacheKey(), err)
			reason := chatv1.ReasonListKeysFailed
			if errors.Is(err, webpubsub.ErrNoCredential) {
				reason = chatv1.ReasonCredentialUnavailable
			}
			return nil, &problem{reason: reason, retry: true, wait: webpubsub.RetryAfterOf(err),
				message: fmt.Sprintf("listing the keys of %s: the management endpoint %s", s.spec.ResourceID, stableError(err))}
		}
		raw = keys.PrimaryConnectionString
		r.keys.put(s.cacheKey(), raw, r.now())
	}
	cs, err := webpubsub.ParseConnectionString(raw)
	if err != nil {
		r.keys.invalidate(s.cacheKey())
		return nil, &problem{reason: chatv1.ReasonInvalidConnectionString, retry: true,
			message: fmt.Sprintf("the primary connection string returned by listKeys is not valid: %v", err)}
	}
	return &connection{cs: cs}, nil
}

// cacheKey names the resource in the reconciler's listKeys cache.
func (s azureSource) cacheKey() string {
	return strings.ToLower(s.managementEndpoint() + s.spec.ResourceID)
}

func (s azureSource) managementEndpoint() string {
	base := s.spec.ManagementEndpoint
	if base == "" {
		base = "https://management.azure.com"
	}
	return strings.TrimSuffix(base, "/")
}

// Existing is nil: ARM needs no key, only the operator's credential.
func (azureSource) Existing(context.Context, *ChatHubReconciler) (*connection, error) {
	return nil, nil
}

func (azureSource) EnsureObjects(context.Context, *ChatHubReconciler, string) ([]namedDeployment, error) {
	return nil, nil
}

func (azureSource) ChatServerArgs() []string { return nil }

// InternalEventHandler is nil: the service runs outside the cluster and
// calls the handler where the chat is published.
func (azureSource) InternalEventHandler() map[string]string { return nil }

func (azureSource) Registers() bool { return true }

func (azureSource) ManualRegistration(webpubsub.EventHandlerSettings, string, *connection) string {
	return ""
}

// HubSettings opens the resource's hub settings through ARM; nil when the
// operator has no Entra credential.
func (s azureSource) HubSettings(r *ChatHubReconciler, _ *connection) (HubSettingsClient, error) {
	if r.EntraTokens == nil {
		return nil, nil
	}
	res, err := webpubsub.ParseResourceID(s.spec.ResourceID)
	if err != nil {
		return nil, &problem{reason: chatv1.ReasonInvalidResourceID, message: err.Error(), retry: true}
	}
	return r.Registrar.HubsClient(RegistrationTarget{BaseURL: s.managementEndpoint(), Resource: res, Tokens: r.EntraTokens})
}

func (azureSource) DeletedWithHub() string { return "" }

// ServiceGone is false: the service is not an object the operator watches
// (embedded: DeletedWithHub covers it).
func (azureSource) ServiceGone(context.Context, *ChatHubReconciler) bool { return false }

// Service is the resource ID.
func (s azureSource) Service() string { return s.spec.ResourceID }

// ServiceKeys are the resource ID and, once known, the endpoint.
func (s azureSource) ServiceKeys(conn *connection) []string {
	return append([]string{azureKey(s.spec.ResourceID)}, endpointKeys(s.hub, conn)...)
}
