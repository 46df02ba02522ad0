// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

func hubFor(mutate func(*chatv1.ChatHub)) *chatv1.ChatHub {
	h := &chatv1.ChatHub{
		ObjectMeta: metav1.ObjectMeta{Name: "my-chat", Namespace: "team-a"},
		Spec:       chatv1.ChatHubSpec{WebPubSub: chatv1.WebPubSubSource{Embedded: &chatv1.EmbeddedSource{}}},
	}
	if mutate != nil {
		mutate(h)
	}
	return h
}

func TestDerivedNames(t *testing.T) {
	tests := map[string]struct {
		hub                          *chatv1.ChatHub
		wantHub, wantURL, wantHandle string
		wantSource                   chatv1.SourceKind
	}{
		"an embedded hub without ingress uses its in-cluster Service": {
			hub:     hubFor(nil),
			wantHub: "my_chat", wantURL: "http://my-chat.team-a.svc/", wantHandle: "http://my-chat.team-a.svc/eventhandler",
			wantSource: chatv1.SourceEmbedded,
		},
		"an Ingress with TLS gives https URLs": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.Ingress = &chatv1.IngressSpec{Host: "chat.example.com", TLSSecretName: "tls"}
			}),
			wantHub: "my_chat", wantURL: "https://chat.example.com/", wantHandle: "https://chat.example.com/eventhandler",
			wantSource: chatv1.SourceEmbedded,
		},
		"an explicit hub and handler URL win": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.Hub = "Lobby"
				h.Spec.EventHandler.URL = "https://x.example.com/api/{event}"
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
			}),
			wantHub: "Lobby", wantURL: "http://my-chat.team-a.svc/", wantHandle: "https://x.example.com/api/{event}",
			wantSource: chatv1.SourceAzure,
		},
		"a Secret reference is a connection string source": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "s"}}
			}),
			wantHub: "my_chat", wantURL: "http://my-chat.team-a.svc/", wantHandle: "http://my-chat.team-a.svc/eventhandler",
			wantSource: chatv1.SourceConnectionString,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := []string{EffectiveHub(tc.hub), ChatURL(tc.hub), EventHandlerURL(tc.hub), string(SourceOf(tc.hub))}
			want := []string{tc.wantHub, tc.wantURL, tc.wantHandle, string(tc.wantSource)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatServerArgs(t *testing.T) {
	tests := map[string]struct {
		hub  *chatv1.ChatHub
		want []string
	}{
		"an embedded hub proxies clients to the PubSub service": {
			hub: hubFor(nil),
			want: []string{"chatserver", "--listen", ":8080", "--hub", "my_chat", "--connection-string-file",
				"/etc/chathub/connection/connectionString", "--token-ttl", "1h0m0s", "--proxy-client"},
		},
		"an Azure hub with a token TTL passes it on and does not proxy": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
				h.Spec.Server.TokenTTL = &metav1.Duration{Duration: 15 * time.Minute}
			}),
			want: []string{"chatserver", "--listen", ":8080", "--hub", "my_chat", "--connection-string-file",
				"/etc/chathub/connection/connectionString", "--token-ttl", "15m0s"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, chatServerArgs(tc.hub)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildIngress(t *testing.T) {
	prefix := networkingv1.PathTypePrefix
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "my-chat", Port: networkingv1.ServiceBackendPort{Name: "http"}}}
	rules := []networkingv1.IngressRule{{Host: "chat.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
		Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: backend}},
	}}}}
	tests := map[string]struct {
		spec *chatv1.IngressSpec
		want *networkingv1.IngressSpec
	}{
		"no ingress spec builds nothing": {},
		"a host alone gives one rule and no TLS": {
			spec: &chatv1.IngressSpec{Host: "chat.example.com"},
			want: &networkingv1.IngressSpec{Rules: rules},
		},
		"a TLS Secret and class are passed on": {
			spec: &chatv1.IngressSpec{Host: "chat.example.com", TLSSecretName: "tls", ClassName: ptr.To("nginx")},
			want: &networkingv1.IngressSpec{IngressClassName: ptr.To("nginx"), Rules: rules,
				TLS: []networkingv1.IngressTLS{{Hosts: []string{"chat.example.com"}, SecretName: "tls"}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ing := buildIngress(hubFor(func(h *chatv1.ChatHub) { h.Spec.Ingress = tc.spec }))
			var got *networkingv1.IngressSpec
			if ing != nil {
				got = &ing.Spec
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnectionHash(t *testing.T) {
	a := ConnectionHash(map[string][]byte{"connectionString": []byte("x"), "accessKey": []byte("k")})
	tests := map[string]struct {
		data map[string][]byte
		same bool
	}{
		"the same data gives the same hash":      {data: map[string][]byte{"accessKey": []byte("k"), "connectionString": []byte("x")}, same: true},
		"a rotated connection string changes it": {data: map[string][]byte{"connectionString": []byte("y"), "accessKey": []byte("k")}},
		"a rotated access key changes it":        {data: map[string][]byte{"connectionString": []byte("x"), "accessKey": []byte("l")}},
		"moving bytes between keys changes it":   {data: map[string][]byte{"connectionString": []byte("xk")}},
		"other keys are ignored":                 {data: map[string][]byte{"connectionString": []byte("x"), "accessKey": []byte("k"), "z": []byte("1")}, same: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ConnectionHash(tc.data) == a; got != tc.same {
				t.Errorf("same hash = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestHandlerMerging(t *testing.T) {
	mine := webpubsub.EventHandlerSettings{URLTemplate: "https://new/eventhandler", UserEventPattern: "*"}
	other := webpubsub.EventHandlerSettings{URLTemplate: "https://other/events"}
	old := webpubsub.EventHandlerSettings{URLTemplate: "https://old/eventhandler"}
	tests := map[string]struct {
		current      *webpubsub.HubSettings
		previousURLs []string
		want         []webpubsub.EventHandlerSettings
	}{
		"a hub without settings gets our handler": {
			want: []webpubsub.EventHandlerSettings{mine},
		},
		"our handler goes first and others stay": {
			current: &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{other}}},
			want:    []webpubsub.EventHandlerSettings{mine, other},
		},
		"the handler we registered before is replaced": {
			current:      &webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: []webpubsub.EventHandlerSettings{old, other}}},
			previousURLs: []string{old.URLTemplate},
			want:         []webpubsub.EventHandlerSettings{mine, other},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := withHandler(tc.current, mine, tc.previousURLs)
			if diff := cmp.Diff(tc.want, got.Properties.EventHandlers); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	removeTests := map[string]struct {
		current  []webpubsub.EventHandlerSettings
		want     []webpubsub.EventHandlerSettings
		wantKeep bool
	}{
		"removing our only handler leaves nothing to keep": {current: []webpubsub.EventHandlerSettings{mine}},
		"removing ours keeps the others": {
			current: []webpubsub.EventHandlerSettings{mine, other}, want: []webpubsub.EventHandlerSettings{other}, wantKeep: true,
		},
	}
	for name, tc := range removeTests {
		t.Run(name, func(t *testing.T) {
			got, keep := withoutHandlers(&webpubsub.HubSettings{Properties: webpubsub.HubProperties{EventHandlers: tc.current}}, []string{mine.URLTemplate})
			if diff := cmp.Diff(tc.want, got.Properties.EventHandlers); diff != "" || keep != tc.wantKeep {
				t.Errorf("keep %v (want %v), (-want +got):\n%s", keep, tc.wantKeep, diff)
			}
		})
	}
}

func TestDesiredEventHandler(t *testing.T) {
	tests := map[string]struct {
		spec chatv1.EventHandlerSpec
		want webpubsub.EventHandlerSettings
	}{
		"an empty spec gets the chat's default": {
			want: webpubsub.EventHandlerSettings{URLTemplate: "http://my-chat.team-a.svc/eventhandler",
				UserEventPattern: "*", SystemEvents: []string{"connected", "disconnected"}},
		},
		"what the spec sets wins": {
			spec: chatv1.EventHandlerSpec{URL: "https://x.example.com/{event}", UserEventPattern: "message",
				SystemEvents: []chatv1.SystemEvent{chatv1.SystemEventConnect}},
			want: webpubsub.EventHandlerSettings{URLTemplate: "https://x.example.com/{event}",
				UserEventPattern: "message", SystemEvents: []string{"connect"}},
		},
		"an explicitly empty list of system events stays empty": {
			spec: chatv1.EventHandlerSpec{SystemEvents: []chatv1.SystemEvent{}},
			want: webpubsub.EventHandlerSettings{URLTemplate: "http://my-chat.team-a.svc/eventhandler",
				UserEventPattern: "*", SystemEvents: []string{}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := DesiredEventHandler(hubFor(func(h *chatv1.ChatHub) { h.Spec.EventHandler = tc.spec }))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
