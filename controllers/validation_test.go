// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/chatserver"
)

const testResourceID = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.SignalRService/webPubSub/awps"

// TestCreateValidation checks that the API server refuses bad specs with a
// message a user understands. The object is never reconciled (a fake client
// would skip these rules).
func TestCreateValidation(t *testing.T) {
	ns := newNamespace(t)
	tests := map[string]struct {
		name   string
		mutate func(*chatv1.ChatHub)
		want   string
	}{
		"a spec without a source is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.WebPubSub = chatv1.WebPubSubSource{} },
			want:   "spec.webPubSub must set exactly one of connectionStringSecretRef, azure, embedded or serviceRef",
		},
		"a spec with two sources is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub.Azure = &chatv1.AzureSource{ResourceID: testResourceID}
			},
			want: "spec.webPubSub must set exactly one of",
		},
		"a hub name starting with a digit is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Hub = "1chat" },
			want:   "spec.hub must start with a letter",
		},
		"a hub name with a dash is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Hub = "my-chat" },
			want:   "spec.hub must start with a letter and contain only letters, digits",
		},
		"an object name that is no hub name needs spec.hub": {
			name: "1-chat",
			want: "spec.hub is required when metadata.name is not a valid hub name",
		},
		"a malformed Azure resource ID is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: "/subscriptions/x/awps"}}
			},
			want: "azure.resourceID must look like /subscriptions/{subscription}/resourceGroups/{group}",
		},
		"a management endpoint with a path is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{
					ResourceID: testResourceID, ManagementEndpoint: "https://management.azure.com/subscriptions"}}
			},
			want: "azure.managementEndpoint must be an http(s) URL with a host and no path",
		},
		"a Secret reference with an invalid name is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "My_Secret"}}
			},
			want: "connectionStringSecretRef.name must be a valid Secret name",
		},
		"a Secret key with a slash is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps", Key: "a/b"}}
			},
			want: "connectionStringSecretRef.key must contain only letters, digits",
		},
		"an event handler URL with a placeholder in the host is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.EventHandler.URL = "https://{hub}.example.com/eventhandler" },
			want:   "eventHandler.url must be an http or https URL with a plain host",
		},
		"an event handler URL that is not http is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.EventHandler.URL = "ftp://chat.example.com/eventhandler" },
			want:   "eventHandler.url must be an http or https URL",
		},
		"a user event pattern with spaces is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.EventHandler.UserEventPattern = "message, typing" },
			want:   `eventHandler.userEventPattern must be "*" or a comma-separated list of event names without spaces`,
		},
		"an unknown system event is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.EventHandler.SystemEvents = []chatv1.SystemEvent{"joined"} },
			want:   `supported values: "connect", "connected", "disconnected"`,
		},
		"a token TTL below one minute is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Server.TokenTTL = &metav1.Duration{Duration: 30 * time.Second} },
			want:   "server.tokenTTL must be between 1m and 24h",
		},
		"a negative message rate is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Server.MessageRateLimit.PerSecond = ptr.To[int32](-1) },
			want:   "server.messageRateLimit.perSecond must be between 0 (no limit) and 1000000",
		},
		"a message burst of 0 is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Server.MessageRateLimit.Burst = ptr.To[int32](0) },
			want:   "server.messageRateLimit.burst must be between 1 and 1000000",
		},
		"more than 100 replicas are refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Server.Replicas = ptr.To[int32](101) },
			want:   "should be less than or equal to 100",
		},
		"header sign-in without its proxies is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthHeader} },
			want:   "auth.mode header needs auth.header with the trustedProxies",
		},
		"a trusted proxy range covering every address is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthHeader, Header: &chatv1.HeaderAuth{TrustedProxies: []string{"10.0.0.1", "0.0.0.0/0"}}}
			},
			want: "must not contain a range covering every address",
		},
		"a trusted proxy that is a host name is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthHeader, Header: &chatv1.HeaderAuth{TrustedProxies: []string{"proxy.example.com"}}}
			},
			want: "auth.header.trustedProxies must be IP addresses or CIDR ranges",
		},
		"a user header with a space is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthHeader, Header: &chatv1.HeaderAuth{Name: "X User", TrustedProxies: []string{"127.0.0.1"}}}
			},
			want: "auth.header.name must be a header name",
		},
		"oidc settings with header sign-in are refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthHeader, Header: &chatv1.HeaderAuth{TrustedProxies: []string{"127.0.0.1"}},
					OIDC: &chatv1.OIDCAuth{IssuerURL: "https://idp.example.com", ClientID: "chat"}}
			},
			want: "auth.oidc is used only with auth.mode oidc",
		},
		"oidc sign-in without its provider is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthOIDC} },
			want:   "auth.mode oidc needs auth.oidc with issuerURL and clientID",
		},
		"a plain http issuer is refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthOIDC, OIDC: &chatv1.OIDCAuth{IssuerURL: "http://idp.example.com", ClientID: "chat"}}
			},
			want: "auth.oidc.issuerURL must be an https URL without a query",
		},
		"scopes without openid are refused": {
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.Auth = &chatv1.AuthSpec{Mode: chatv1.AuthOIDC, OIDC: &chatv1.OIDCAuth{
					IssuerURL: "https://idp.example.com/realms/chat", ClientID: "chat", Scopes: []string{"profile"}}}
			},
			want: "auth.oidc.scopes must include openid",
		},
		"an unknown sign-in mode is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Auth = &chatv1.AuthSpec{Mode: "saml"} },
			want:   `supported values: "anonymous", "header", "oidc"`,
		},
		"an Ingress host with a scheme is refused": {
			mutate: func(h *chatv1.ChatHub) { h.Spec.Ingress = &chatv1.IngressSpec{Host: "https://chat.example.com"} },
			want:   "ingress.host must be a lower-case DNS name",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objName := tc.name
			if objName == "" {
				objName = "chat"
			}
			h := embeddedHub(objName, ns)
			if tc.mutate != nil {
				tc.mutate(h)
			}
			err := suite.client.Create(suite.ctx, h)
			if err == nil {
				t.Fatalf("the API server accepted the spec; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

// TestUpdateValidation checks the immutability rules: changing what would
// orphan a registered handler is refused.
func TestUpdateValidation(t *testing.T) {
	ns := newNamespace(t)
	tests := map[string]struct {
		create func() *chatv1.ChatHub
		mutate func(*chatv1.ChatHub)
		want   string
	}{
		"changing the hub is refused": {
			create: func() *chatv1.ChatHub { h := embeddedHub("hubchange", ns); h.Spec.Hub = "lobby"; return h },
			mutate: func(h *chatv1.ChatHub) { h.Spec.Hub = "lobby2" },
			want:   "spec.hub cannot be changed",
		},
		"setting a hub on a hub that used its name is refused": {
			create: func() *chatv1.ChatHub { return embeddedHub("hubset", ns) },
			mutate: func(h *chatv1.ChatHub) { h.Spec.Hub = "other" },
			want:   "spec.hub cannot be changed",
		},
		"changing the source kind is refused": {
			create: func() *chatv1.ChatHub { return embeddedHub("kindchange", ns) },
			mutate: func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps"}}
			},
			want: "the kind of spec.webPubSub source (connectionStringSecretRef, azure, embedded or serviceRef) cannot be changed",
		},
		"changing the Azure resource ID is refused": {
			create: func() *chatv1.ChatHub {
				h := embeddedHub("idchange", ns)
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
				return h
			},
			mutate: func(h *chatv1.ChatHub) { h.Spec.WebPubSub.Azure.ResourceID = testResourceID + "2" },
			want:   "azure.resourceID cannot be changed",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := tc.create()
			mustCreate(t, h)
			err := updateHub(h.Name, ns, tc.mutate)
			if err == nil {
				t.Fatalf("the API server accepted the update; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

// defaultMessageRateLimit is the CRD's default of server.messageRateLimit:
// the chat server's own defaults, so that a ChatHub without the field
// behaves as the chat server run by hand.
var defaultMessageRateLimit = chatv1.MessageRateLimit{
	PerSecond: ptr.To[int32](chatserver.DefaultUserMessageRate),
	Burst:     ptr.To[int32](chatserver.DefaultUserMessageBurst),
}

// TestDefaults checks the defaults the API server applies.
func TestDefaults(t *testing.T) {
	ns := newNamespace(t)
	tests := map[string]struct {
		hub  *chatv1.ChatHub
		want chatv1.ChatHubSpec
	}{
		"an embedded hub gets handler, server and no hub defaults": {
			hub: embeddedHub("defaults-embedded", ns),
			want: chatv1.ChatHubSpec{
				WebPubSub: chatv1.WebPubSubSource{Embedded: &chatv1.EmbeddedSource{}},
				EventHandler: chatv1.EventHandlerSpec{UserEventPattern: "*", Registration: chatv1.RegistrationAutomatic,
					SystemEvents: []chatv1.SystemEvent{chatv1.SystemEventConnected, chatv1.SystemEventDisconnected}},
				Server: chatv1.ServerSpec{Replicas: ptr.To[int32](1), TokenTTL: &metav1.Duration{Duration: time.Hour},
					MessageRateLimit: defaultMessageRateLimit},
			},
		},
		"an Azure hub gets the public management endpoint": {
			hub: func() *chatv1.ChatHub {
				h := embeddedHub("defaults-azure", ns)
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
				return h
			}(),
			want: chatv1.ChatHubSpec{
				WebPubSub: chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID, ManagementEndpoint: "https://management.azure.com"}},
				EventHandler: chatv1.EventHandlerSpec{UserEventPattern: "*", Registration: chatv1.RegistrationAutomatic,
					SystemEvents: []chatv1.SystemEvent{chatv1.SystemEventConnected, chatv1.SystemEventDisconnected}},
				Server: chatv1.ServerSpec{Replicas: ptr.To[int32](1), TokenTTL: &metav1.Duration{Duration: time.Hour},
					MessageRateLimit: defaultMessageRateLimit},
			},
		},
		"a Secret reference gets the connectionString key": {
			hub: func() *chatv1.ChatHub {
				h := embeddedHub("defaults-secret", ns)
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps"}}
				return h
			}(),
			want: chatv1.ChatHubSpec{
				WebPubSub: chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps", Key: "connectionString"}},
				EventHandler: chatv1.EventHandlerSpec{UserEventPattern: "*", Registration: chatv1.RegistrationAutomatic,
					SystemEvents: []chatv1.SystemEvent{chatv1.SystemEventConnected, chatv1.SystemEventDisconnected}},
				Server: chatv1.ServerSpec{Replicas: ptr.To[int32](1), TokenTTL: &metav1.Duration{Duration: time.Hour},
					MessageRateLimit: defaultMessageRateLimit},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mustCreate(t, tc.hub)
			got, err := getHub(tc.hub.Name, ns)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Spec); diff != "" {
				t.Fatalf("defaulted spec (-want +got):\n%s", diff)
			}
		})
	}
}

// updateHub applies mutate to the latest ChatHub and updates it, retrying on
// conflicts with the controller's own writes.
func updateHub(name, ns string, mutate func(*chatv1.ChatHub)) error {
	for {
		h, err := getHub(name, ns)
		if err != nil {
			return err
		}
		mutate(h)
		err = suite.client.Update(suite.ctx, h)
		if !apierrors.IsConflict(err) {
			return err
		}
	}
}
