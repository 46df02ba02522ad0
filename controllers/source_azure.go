// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"strings"

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

// Resolve reads the primary connection string with ARM listKeys. Its
// problems are retried with backoff: ARM or the credential may recover.
func (s azureSource) Resolve(ctx context.Context, r *ChatHubReconciler) (*connection, error) {
	hubs, err := s.HubSettings(r, nil)
	if err != nil {
		return nil, err
	}
	if hubs == nil {
		return nil, &problem{reason: chatv1.ReasonCredentialUnavailable, retry: true,
			message: "the operator has no Microsoft Entra credential (configure workload identity for its service account)"}
	}
	keys, err := hubs.ListKeys(ctx)
	if err != nil {
		return nil, &problem{reason: chatv1.ReasonListKeysFailed, retry: true,
			message: fmt.Sprintf("listing the keys of %s: %v", s.spec.ResourceID, err)}
	}
	cs, err := webpubsub.ParseConnectionString(keys.PrimaryConnectionString)
	if err != nil {
		return nil, &problem{reason: chatv1.ReasonInvalidConnectionString, retry: true,
			message: fmt.Sprintf("the primary connection string returned by listKeys is not valid: %v", err)}
	}
	return &connection{cs: cs}, nil
}

// Existing is nil: ARM needs no key, only the operator's credential.
func (azureSource) Existing(context.Context, *ChatHubReconciler) (*connection, error) {
	return nil, nil
}

func (azureSource) EnsureObjects(context.Context, *ChatHubReconciler, string) ([]namedDeployment, error) {
	return nil, nil
}

func (azureSource) ChatServerArgs() []string { return nil }

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
	base := s.spec.ManagementEndpoint
	if base == "" {
		base = "https://management.azure.com"
	}
	return r.Registrar.HubsClient(RegistrationTarget{BaseURL: strings.TrimSuffix(base, "/"), Resource: res, Tokens: r.EntraTokens})
}

func (azureSource) DeletedWithHub() string { return "" }

// Service is the resource ID.
func (s azureSource) Service() string { return s.spec.ResourceID }

// ServiceKeys are the resource ID and, once known, the endpoint.
func (s azureSource) ServiceKeys(conn *connection) []string {
	return append([]string{azureKey(s.spec.ResourceID)}, endpointKeys(s.hub, conn)...)
}
