// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// ManagementScope is the Entra ID scope of Azure Resource Manager tokens.
const ManagementScope = "https://management.azure.com/.default"

// accessKeyTokenSource signs an HS256 token per request with an access key.
type accessKeyTokenSource struct {
	key string
	now func() time.Time
}

// AccessKeyTokenSource returns a TokenSource that signs an HS256 JWT with accessKey for each
// request: aud is the request URL without the query, exp one hour ahead. The PubSub service
// accepts these on its ARM-shaped API.
func AccessKeyTokenSource(accessKey string) TokenSource {
	return &accessKeyTokenSource{key: accessKey, now: time.Now}
}

func (s *accessKeyTokenSource) Token(_ context.Context, requestURL *url.URL) (string, error) {
	if requestURL == nil {
		return "", errors.New("access key token source: request URL is nil")
	}
	aud := *requestURL
	aud.RawQuery, aud.ForceQuery, aud.Fragment, aud.RawFragment = "", false, "", ""
	return ServiceToken(s.key, aud.String(), DefaultTokenTTL, s.now())
}

// entraTokenSource gets Entra ID tokens for Azure Resource Manager from a credential.
type entraTokenSource struct {
	cred azcore.TokenCredential
}

// EntraTokenSource returns a TokenSource that asks cred for a token with scope
// ManagementScope. azidentity credentials cache tokens until shortly before expiry.
func EntraTokenSource(cred azcore.TokenCredential) TokenSource {
	return &entraTokenSource{cred: cred}
}

func (s *entraTokenSource) Token(ctx context.Context, _ *url.URL) (string, error) {
	if s.cred == nil {
		return "", errors.New("entra token source: credential is nil")
	}
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ManagementScope}})
	if err != nil {
		return "", fmt.Errorf("entra token source: %w", err)
	}
	if tok.Token == "" {
		return "", errors.New("entra token source: the credential returned an empty token")
	}
	return tok.Token, nil
}

// ErrNoCredential is returned (wrapped) by DefaultEntraTokenSource when the
// environment configures no Microsoft Entra identity: no workload identity, no
// service principal and no managed identity.
var ErrNoCredential = errors.New("no Microsoft Entra identity is configured")

// DefaultEntraTokenSource returns an EntraTokenSource over Kubernetes workload identity when
// its environment (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID) is present,
// falling back to azidentity's default credential chain. When the environment configures
// no identity at all (see ConfiguredIdentity) it returns an error wrapping ErrNoCredential
// instead of a source whose every token request would fail.
func DefaultEntraTokenSource() (TokenSource, error) {
	if ConfiguredIdentity(os.Getenv) == "" {
		return nil, fmt.Errorf("entra token source: %w (set up workload identity for the service account, "+
			"or set AZURE_CLIENT_ID for a managed identity)", ErrNoCredential)
	}
	var chain []azcore.TokenCredential
	if workloadIdentityConfigured() {
		if wi, err := azidentity.NewWorkloadIdentityCredential(nil); err == nil {
			chain = append(chain, wi)
		}
	}
	def, err := azidentity.NewDefaultAzureCredential(nil)
	if err == nil {
		chain = append(chain, def)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("entra token source: no credential is available: %w", err)
	}
	if len(chain) == 1 {
		return EntraTokenSource(chain[0]), nil
	}
	cred, err := azidentity.NewChainedTokenCredential(chain, nil)
	if err != nil {
		return nil, fmt.Errorf("entra token source: %w", err)
	}
	return EntraTokenSource(cred), nil
}

// ConfiguredIdentity names the Microsoft Entra identity getenv configures, or
// "" when there is none: "WorkloadIdentity" (AZURE_FEDERATED_TOKEN_FILE,
// AZURE_CLIENT_ID and AZURE_TENANT_ID), "ServicePrincipal" (AZURE_TENANT_ID,
// AZURE_CLIENT_ID and a secret, certificate or user name), "ManagedIdentity"
// (IDENTITY_ENDPOINT or MSI_ENDPOINT, or AZURE_CLIENT_ID alone naming a
// user-assigned identity). A system-assigned identity reached only through
// the instance metadata service cannot be seen without a network call; name it
// with AZURE_CLIENT_ID.
func ConfiguredIdentity(getenv func(string) string) string {
	set := func(names ...string) bool {
		for _, n := range names {
			if getenv(n) == "" {
				return false
			}
		}
		return true
	}
	switch {
	case set("AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"):
		return "WorkloadIdentity"
	case set("AZURE_TENANT_ID", "AZURE_CLIENT_ID") &&
		(set("AZURE_CLIENT_SECRET") || set("AZURE_CLIENT_CERTIFICATE_PATH") || set("AZURE_USERNAME")):
		return "ServicePrincipal"
	case set("IDENTITY_ENDPOINT"), set("MSI_ENDPOINT"), set("AZURE_CLIENT_ID"):
		return "ManagedIdentity"
	}
	return ""
}

// workloadIdentityConfigured reports whether the environment the workload identity webhook
// injects is present and non-empty.
func workloadIdentityConfigured() bool {
	for _, v := range []string{"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"} {
		if os.Getenv(v) == "" {
			return false
		}
	}
	return true
}
