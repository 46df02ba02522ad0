// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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
		"an embedded hub without ingress uses its in-cluster Service, the handler its internal port": {
			hub:     hubFor(nil),
			wantHub: "my_chat", wantURL: "http://my-chat.team-a.svc/", wantHandle: "http://my-chat.team-a.svc:8081/eventhandler",
			wantSource: chatv1.SourceEmbedded,
		},
		"an Ingress with TLS gives https URLs; an in-cluster service still calls the internal port": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.Ingress = &chatv1.IngressSpec{Host: "chat.example.com", TLSSecretName: "tls"}
			}),
			wantHub: "my_chat", wantURL: "https://chat.example.com/", wantHandle: "http://my-chat.team-a.svc:8081/eventhandler",
			wantSource: chatv1.SourceEmbedded,
		},
		"an Azure hub behind an Ingress gets its handler there": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.Ingress = &chatv1.IngressSpec{Host: "chat.example.com", TLSSecretName: "tls"}
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
			}),
			wantHub: "my_chat", wantURL: "https://chat.example.com/", wantHandle: "https://chat.example.com/eventhandler",
			wantSource: chatv1.SourceAzure,
		},
		"a WebPubSubService reference uses the internal port": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{ServiceRef: &chatv1.ServiceReference{Name: "shared"}}
			}),
			wantHub: "my_chat", wantURL: "http://my-chat.team-a.svc/", wantHandle: "http://my-chat.team-a.svc:8081/eventhandler",
			wantSource: chatv1.SourceServiceRef,
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
			want: []string{"chatserver", "--listen", ":8080", "--metrics-listen", ":9090", "--log-format", "json",
				"--hub", "my_chat", "--connection-string-file",
				"/etc/chathub/connection/connectionString", "--token-ttl", "1h0m0s", "--internal-listen", ":8081", "--proxy-client"},
		},
		"an Azure hub with a token TTL passes it on and does not proxy": {
			hub: hubFor(func(h *chatv1.ChatHub) {
				h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
				h.Spec.Server.TokenTTL = &metav1.Duration{Duration: 15 * time.Minute}
			}),
			want: []string{"chatserver", "--listen", ":8080", "--metrics-listen", ":9090", "--log-format", "json",
				"--hub", "my_chat", "--connection-string-file",
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
			want: webpubsub.EventHandlerSettings{URLTemplate: "http://my-chat.team-a.svc:8081/eventhandler",
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
			want: webpubsub.EventHandlerSettings{URLTemplate: "http://my-chat.team-a.svc:8081/eventhandler",
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

func TestWithDefaultRequests(t *testing.T) {
	q := resource.MustParse
	tests := map[string]struct {
		in, want corev1.ResourceRequirements
	}{
		"nothing set gets the default requests and no limits": {
			want: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("10m"), "memory": q("24Mi")}},
		},
		"a request set wins and the other resource is defaulted": {
			in:   corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("250m")}},
			want: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("250m"), "memory": q("24Mi")}},
		},
		"a limit alone is not given a request it could be below": {
			in: corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("5m")}},
			want: corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpu": q("5m")},
				Requests: corev1.ResourceList{"memory": q("24Mi")}},
		},
		"requests and limits for both resources are kept as they are": {
			in: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")},
				Limits: corev1.ResourceList{"cpu": q("2"), "memory": q("2Gi")}},
			want: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")},
				Limits: corev1.ResourceList{"cpu": q("2"), "memory": q("2Gi")}},
		},
		"other resources do not count": {
			in: corev1.ResourceRequirements{Limits: corev1.ResourceList{"ephemeral-storage": q("1Gi")}},
			want: corev1.ResourceRequirements{Limits: corev1.ResourceList{"ephemeral-storage": q("1Gi")},
				Requests: corev1.ResourceList{"cpu": q("10m"), "memory": q("24Mi")}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := tc.in.DeepCopy()
			got := withDefaultRequests(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(*in, tc.in); diff != "" {
				t.Errorf("the spec's resources were modified (-before +after):\n%s", diff)
			}
		})
	}
}

// fullScheduling sets every field of PodSchedulingSpec.
func fullScheduling(label string) chatv1.PodSchedulingSpec {
	return chatv1.PodSchedulingSpec{
		NodeSelector: map[string]string{"pool": label},
		Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: label, Effect: corev1.TaintEffectNoSchedule}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"},
			}}}},
		}}},
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": "my-chat"}},
		}},
		PriorityClassName: "chat-" + label,
		ImagePullSecrets:  []corev1.LocalObjectReference{{Name: "regcred-" + label}},
		PodLabels:         map[string]string{"team": label},
		PodAnnotations:    map[string]string{"b.example.com/y": "2", "a.example.com/x": "1"},
	}
}

func TestBuildDeploymentScheduling(t *testing.T) {
	server, pubsub := fullScheduling("server"), fullScheduling("pubsub")
	tests := map[string]struct {
		build          func(h *chatv1.ChatHub) *appsv1.Deployment
		spec           chatv1.PodSchedulingSpec
		component      string
		wantTracking   map[string]string
		wantAnnotation map[string]string
	}{
		"the chat server without scheduling fields gets only the operator's labels and annotations": {
			build:          func(h *chatv1.ChatHub) *appsv1.Deployment { return buildChatServerDeployment(h, "img", "hash") },
			component:      "chatserver",
			wantAnnotation: map[string]string{ConnectionHashAnnotation: "hash", MetricsPortAnnotation: "metrics"},
		},
		"the chat server gets every scheduling field": {
			build: func(h *chatv1.ChatHub) *appsv1.Deployment {
				h.Spec.Server.PodSchedulingSpec = server
				return buildChatServerDeployment(h, "img", "hash")
			},
			spec: server, component: "chatserver",
			wantTracking: map[string]string{PodAnnotationsAnnotation: "a.example.com/x,b.example.com/y"},
			wantAnnotation: map[string]string{ConnectionHashAnnotation: "hash", MetricsPortAnnotation: "metrics",
				"a.example.com/x": "1", "b.example.com/y": "2"},
		},
		"the PubSub service gets its own scheduling fields, not the chat server's": {
			build: func(h *chatv1.ChatHub) *appsv1.Deployment {
				h.Spec.Server.PodSchedulingSpec = server
				h.Spec.WebPubSub.Embedded.PodSchedulingSpec = pubsub
				return buildEmbeddedDeployment(h, h.Spec.WebPubSub.Embedded, "img", "hash")
			},
			spec: pubsub, component: "pubsub",
			wantTracking: map[string]string{PodAnnotationsAnnotation: "a.example.com/x,b.example.com/y"},
			wantAnnotation: map[string]string{ConnectionHashAnnotation: "hash", MetricsPortAnnotation: "http",
				"a.example.com/x": "1", "b.example.com/y": "2"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := tc.build(hubFor(nil))
			pod := d.Spec.Template.Spec
			got := chatv1.PodSchedulingSpec{
				NodeSelector: pod.NodeSelector, Tolerations: pod.Tolerations, Affinity: pod.Affinity,
				TopologySpreadConstraints: pod.TopologySpreadConstraints, PriorityClassName: pod.PriorityClassName,
				ImagePullSecrets: pod.ImagePullSecrets, PodLabels: tc.spec.PodLabels, PodAnnotations: tc.spec.PodAnnotations,
			}
			if diff := cmp.Diff(tc.spec, got); diff != "" {
				t.Errorf("pod spec scheduling (-want +got):\n%s", diff)
			}
			wantLabels := map[string]string{"app.kubernetes.io/name": "chathub", "app.kubernetes.io/instance": "my-chat",
				"app.kubernetes.io/component": tc.component, "app.kubernetes.io/managed-by": "chathub-operator"}
			maps.Copy(wantLabels, tc.spec.PodLabels)
			if diff := cmp.Diff(wantLabels, d.Spec.Template.Labels); diff != "" {
				t.Errorf("pod labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAnnotation, d.Spec.Template.Annotations); diff != "" {
				t.Errorf("pod annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantTracking, d.Annotations); diff != "" {
				t.Errorf("Deployment annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(selectorLabels(hubFor(nil), tc.component), d.Labels, cmpopts.IgnoreMapEntries(func(k, _ string) bool {
				return k == "app.kubernetes.io/managed-by"
			})); diff != "" {
				t.Errorf("podLabels leaked onto the Deployment's labels (-want +got):\n%s", diff)
			}
			if c := d.Spec.Template.Spec.Containers[0]; c.Resources.Requests.Cpu().String() != "10m" || c.Resources.Requests.Memory().String() != "24Mi" {
				t.Errorf("container requests %v, want the defaults", c.Resources.Requests)
			}
			if d.Spec.Paused || d.Spec.MinReadySeconds != 0 {
				t.Errorf("paused %v, minReadySeconds %d; want false and 0", d.Spec.Paused, d.Spec.MinReadySeconds)
			}
		})
	}
}

func TestBuildPodDisruptionBudget(t *testing.T) {
	want := &policyv1.PodDisruptionBudgetSpec{
		MaxUnavailable: ptr.To(intstr.FromInt32(1)),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{
			"app.kubernetes.io/name": "chathub", "app.kubernetes.io/instance": "my-chat", "app.kubernetes.io/component": "chatserver"}},
		UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
	}
	tests := map[string]struct {
		replicas *int32
		want     *policyv1.PodDisruptionBudgetSpec
	}{
		"the default single replica gets no budget": {},
		"one replica gets no budget":                {replicas: ptr.To[int32](1)},
		"zero replicas get no budget":               {replicas: ptr.To[int32](0)},
		"two replicas may lose one at a time":       {replicas: ptr.To[int32](2), want: want},
		"ten replicas may still lose one at a time": {replicas: ptr.To[int32](10), want: want},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pdb := buildPodDisruptionBudget(hubFor(func(h *chatv1.ChatHub) { h.Spec.Server.Replicas = tc.replicas }))
			var got *policyv1.PodDisruptionBudgetSpec
			if pdb != nil {
				got = &pdb.Spec
				if pdb.Name != "my-chat" || pdb.Namespace != "team-a" {
					t.Errorf("PodDisruptionBudget %s/%s, want team-a/my-chat", pdb.Namespace, pdb.Name)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetricsPortAnnotationNamesTheMetricsPort checks that the pods of chat
// servers and PubSub services name, in MetricsPortAnnotation, a port of their
// container, and for the chat server the one that serves /metrics: internal
// exactly when it runs with --internal-listen.
func TestMetricsPortAnnotationNamesTheMetricsPort(t *testing.T) {
	azure := hubFor(func(h *chatv1.ChatHub) {
		h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
	})
	secret := hubFor(func(h *chatv1.ChatHub) {
		h.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "s"}}
	})
	instance := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "team-a"}}
	tests := map[string]struct {
		d    *appsv1.Deployment
		want string
	}{
		"a chat server with the PubSub service in the cluster": {d: buildChatServerDeployment(hubFor(nil), "img", "h"), want: "metrics"},
		"a chat server on Azure Web PubSub":                    {d: buildChatServerDeployment(azure, "img", "h"), want: "metrics"},
		"a chat server with a connection string":               {d: buildChatServerDeployment(secret, "img", "h"), want: "metrics"},
		"an embedded PubSub service":                           {d: buildEmbeddedDeployment(hubFor(nil), &chatv1.EmbeddedSource{}, "img", "h"), want: "http"},
		"a WebPubSubService":                                   {d: buildInstanceDeployment(instance, "img", natsAccess{}), want: "http"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.d.Spec.Template.Annotations[MetricsPortAnnotation]
			if got != tc.want {
				t.Fatalf("%s = %q, want %q", MetricsPortAnnotation, got, tc.want)
			}
			c := tc.d.Spec.Template.Spec.Containers[0]
			var ports []string
			for _, p := range c.Ports {
				ports = append(ports, p.Name)
			}
			if !slices.Contains(ports, got) {
				t.Errorf("%s names port %q, but the container's ports are %v", MetricsPortAnnotation, got, ports)
			}
			if got == "metrics" && !slices.Contains(c.Args, "--metrics-listen") {
				t.Errorf("%s = %q with args %q: the metrics port needs --metrics-listen", MetricsPortAnnotation, got, c.Args)
			}
		})
	}
}
