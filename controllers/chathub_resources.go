// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/webpubsub"
)

// Names, labels, ports and paths shared by the builders.
const (
	// ConnectionHashAnnotation on a pod template holds the sha256 of the
	// connection Secret's data, so a key rotation rolls the pods.
	ConnectionHashAnnotation = "chat.webpubsub.dev/connection-hash"

	// SecretKeyConnectionString is the key of the connection Secret holding
	// the connection string.
	SecretKeyConnectionString = "connectionString"
	// SecretKeyAccessKey is the key of the connection Secret holding the
	// generated access key of an embedded service.
	SecretKeyAccessKey = "accessKey"

	// ChatServerPort is the chat server's container port.
	ChatServerPort = 8080
	// ChatServicePort is the port of the chat server's Service.
	ChatServicePort = 80
	// ChatServerInternalPort is the chat server's internal port, container
	// and Service alike: the event handler, when the PubSub service runs in
	// the cluster (connectionSource.InternalEventHandler).
	ChatServerInternalPort = 8081
	// ChatServerMetricsPort is the chat server's metrics port (container
	// port "metrics", --metrics-listen): never on a Service, so no Ingress
	// routes it; Prometheus scrapes the pods (a PodMonitor).
	ChatServerMetricsPort = 9090
	// EmbeddedPort is the port of the PubSub service.
	EmbeddedPort = 7070
	// EventHandlerPath is where the chat server serves its event handler.
	EventHandlerPath = "/eventhandler"

	// PodAnnotationsAnnotation on a Deployment lists (comma-separated,
	// sorted) the pod-template annotations that came from podAnnotations,
	// so one removed from the spec is removed from the pods while
	// annotations others add (kubectl rollout restart) stay.
	PodAnnotationsAnnotation = "chat.webpubsub.dev/pod-annotations"

	// MetricsPortAnnotation on the pods of chat servers and PubSub services
	// names the container port that serves /metrics: internal when the chat
	// server has an internal port, else http. The chart's PodMonitor scrapes
	// only that port (a chat server with an internal port answers 404 for
	// /metrics on http).
	MetricsPortAnnotation = "chat.webpubsub.dev/metrics-port"

	connectionMountPath = "/etc/chathub/connection"
	componentChatServer = "chatserver"
	componentPubSub     = "pubsub"
	managerName         = "chathub-operator"
	nonRootUID          = 65532
)

// defaultRequests are the resource requests of the chat server and the
// PubSub service containers for each resource that spec.server.resources
// (or spec.webPubSub.embedded.resources) gives neither a request nor a
// limit: enough for an idle server, so the pods are Burstable rather than
// BestEffort and the scheduler accounts for them. No limits are set. Both
// idle at about 12 MiB resident running DataPlaneBinary (make bench-idle);
// 24Mi leaves room for the first connections.
var defaultRequests = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("10m"),
	corev1.ResourceMemory: resource.MustParse("24Mi"),
}

// DataPlaneBinary is the path, in the operator's image, of the binary the
// chat server and PubSub service containers run: cmd/chathub-data, the
// data-plane subcommands without the Kubernetes libraries, which idles in
// about a quarter of the memory of the image's entrypoint /chathub.
const DataPlaneBinary = "/chathub-data"

// dataPlaneCommand is the command of a data-plane container: DataPlaneBinary
// in the operator's image (customImage empty); in an image the spec names,
// which may not have it, nil, so the image's entrypoint runs.
func dataPlaneCommand(customImage string) []string {
	if customImage != "" {
		return nil
	}
	return []string{DataPlaneBinary}
}

// ConnectionSecretName is the name of the Secret the operator writes for hub.
func ConnectionSecretName(hub *chatv1.ChatHub) string { return hub.Name + "-connection" }

// ChatServerName is the name of the chat server's Deployment and Service.
func ChatServerName(hub *chatv1.ChatHub) string { return hub.Name }

// EmbeddedName is the name of the PubSub service's Deployment and Service.
func EmbeddedName(hub *chatv1.ChatHub) string { return hub.Name + "-pubsub" }

// EffectiveHub is the Web PubSub hub name of a ChatHub: spec.hub, or
// metadata.name with '-' replaced by '_' (hub names cannot contain '-').
func EffectiveHub(hub *chatv1.ChatHub) string {
	if hub.Spec.Hub != "" {
		return hub.Spec.Hub
	}
	return strings.ReplaceAll(hub.Name, "-", "_")
}

// EmbeddedEndpoint is the in-cluster URL of hub's PubSub service.
func EmbeddedEndpoint(hub *chatv1.ChatHub) *url.URL {
	return &url.URL{Scheme: "http", Host: fmt.Sprintf("%s.%s.svc:%d", EmbeddedName(hub), hub.Namespace, EmbeddedPort)}
}

// ChatServiceHost is the in-cluster host name of hub's chat server Service.
func ChatServiceHost(hub *chatv1.ChatHub) string {
	return fmt.Sprintf("%s.%s.svc", ChatServerName(hub), hub.Namespace)
}

// ChatURL is where users open the chat.
func ChatURL(hub *chatv1.ChatHub) string {
	if ing := hub.Spec.Ingress; ing != nil {
		scheme := "http"
		if ing.TLSSecretName != "" {
			scheme = "https"
		}
		return scheme + "://" + ing.Host + "/"
	}
	return "http://" + ChatServiceHost(hub) + "/"
}

// EventHandlerURL is the URL template to register for hub: spec.eventHandler.url,
// else the internal port of the in-cluster Service when the PubSub service
// runs in the cluster (InternalEventHandlerURL), else derived from the
// Ingress or the in-cluster Service.
func EventHandlerURL(hub *chatv1.ChatHub) string {
	if hub.Spec.EventHandler.URL != "" {
		return hub.Spec.EventHandler.URL
	}
	if sourceFor(hub).InternalEventHandler() != nil {
		return InternalEventHandlerURL(hub)
	}
	return strings.TrimSuffix(ChatURL(hub), "/") + EventHandlerPath
}

// InternalEventHandlerURL is the event handler on the internal port of hub's
// chat server Service.
func InternalEventHandlerURL(hub *chatv1.ChatHub) string {
	return fmt.Sprintf("http://%s:%d%s", ChatServiceHost(hub), ChatServerInternalPort, EventHandlerPath)
}

// EventHandlerCheckURL is where the operator checks the chat server's
// abuse-protection handshake: the internal port when the PubSub service runs
// in the cluster, else the Service's public port.
func EventHandlerCheckURL(hub *chatv1.ChatHub) string {
	if sourceFor(hub).InternalEventHandler() != nil {
		return InternalEventHandlerURL(hub)
	}
	return "http://" + ChatServiceHost(hub) + EventHandlerPath
}

// DesiredEventHandler is the handler settings the operator registers for hub:
// the chat's default (chatserver.DefaultEventHandler, which the CRD's
// defaults repeat) with what spec.eventHandler sets.
func DesiredEventHandler(hub *chatv1.ChatHub) webpubsub.EventHandlerSettings {
	h := chatserver.DefaultEventHandler(EventHandlerURL(hub))
	if p := hub.Spec.EventHandler.UserEventPattern; p != "" {
		h.UserEventPattern = p
	}
	if events := hub.Spec.EventHandler.SystemEvents; events != nil {
		h.SystemEvents = make([]string, 0, len(events))
		for _, e := range events {
			h.SystemEvents = append(h.SystemEvents, string(e))
		}
	}
	return h
}

// ConnectionHash is the value of ConnectionHashAnnotation for a Secret's data.
func ConnectionHash(data map[string][]byte) string {
	h := sha256.New()
	for _, k := range []string{SecretKeyConnectionString, SecretKeyAccessKey} {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(data[k])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Labels are the labels of every object the operator creates for hub.
func Labels(hub *chatv1.ChatHub, component string) map[string]string {
	l := selectorLabels(hub, component)
	l["app.kubernetes.io/managed-by"] = managerName
	return l
}

func selectorLabels(hub *chatv1.ChatHub, component string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "chathub",
		"app.kubernetes.io/instance":  hub.Name,
		"app.kubernetes.io/component": component,
	}
}

// buildConnectionSecretData is the data of the connection Secret: the
// connection string and, for a service the operator runs, its access key and
// the hub settings it starts with (settings.json; not part of
// ConnectionHash, so a new handler never rolls the pods).
func buildConnectionSecretData(connectionString, accessKey string, settings []byte) map[string][]byte {
	data := map[string][]byte{SecretKeyConnectionString: []byte(connectionString)}
	if accessKey != "" {
		data[SecretKeyAccessKey] = []byte(accessKey)
	}
	if settings != nil {
		data[SecretKeySettings] = settings
	}
	return data
}

// restrictedContainerSecurityContext follows the restricted Pod Security
// Standard.
func restrictedContainerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		ReadOnlyRootFilesystem:   ptr.To(true),
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// podSpec is the shared part of the ChatHub's pod templates: c with the
// connection Secret (volumeItems of it) mounted.
func podSpec(hub *chatv1.ChatHub, c corev1.Container, volumeItems []corev1.KeyToPath) corev1.PodSpec {
	return basePodSpec(c, []corev1.VolumeMount{{Name: "connection", MountPath: connectionMountPath, ReadOnly: true}},
		[]corev1.Volume{{Name: "connection", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: ConnectionSecretName(hub), Items: volumeItems, DefaultMode: ptr.To[int32](0o440),
		}}}})
}

// basePodSpec is the part of every pod template the operator builds: c,
// restricted, with the volumes and their mounts and a writable /tmp. Fields
// the API server would default are set explicitly so that re-applying the
// desired spec is a no-op.
func basePodSpec(c corev1.Container, mounts []corev1.VolumeMount, volumes []corev1.Volume) corev1.PodSpec {
	c.ImagePullPolicy = corev1.PullIfNotPresent
	c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	c.SecurityContext = restrictedContainerSecurityContext()
	c.VolumeMounts = append(slices.Clone(mounts), corev1.VolumeMount{Name: "tmp", MountPath: "/tmp"})
	return corev1.PodSpec{
		Containers:                    []corev1.Container{c},
		AutomountServiceAccountToken:  ptr.To(false),
		EnableServiceLinks:            ptr.To(false),
		RestartPolicy:                 corev1.RestartPolicyAlways,
		DNSPolicy:                     corev1.DNSClusterFirst,
		SchedulerName:                 corev1.DefaultSchedulerName,
		TerminationGracePeriodSeconds: ptr.To[int64](30),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](nonRootUID),
			RunAsGroup:     ptr.To[int64](nonRootUID),
			FSGroup:        ptr.To[int64](nonRootUID),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Volumes: append(slices.Clone(volumes),
			corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}),
	}
}

// withDefaultRequests is res with defaultRequests for every resource res
// has neither a request nor a limit for. A limit alone is left alone: the
// API server defaults the request to it, and a default request above it
// would be refused.
func withDefaultRequests(res corev1.ResourceRequirements) corev1.ResourceRequirements {
	out := *res.DeepCopy()
	for name, q := range defaultRequests {
		_, hasRequest := out.Requests[name]
		_, hasLimit := out.Limits[name]
		if hasRequest || hasLimit {
			continue
		}
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		out.Requests[name] = q.DeepCopy()
	}
	return out
}

// withScheduling puts the scheduling fields of s on a pod template. The
// operator's labels and annotations win over podLabels and podAnnotations
// (CEL refuses those that would clash).
func withScheduling(tpl *corev1.PodTemplateSpec, s *chatv1.PodSchedulingSpec) {
	s = s.DeepCopy()
	tpl.Spec.NodeSelector = s.NodeSelector
	tpl.Spec.Tolerations = s.Tolerations
	tpl.Spec.Affinity = s.Affinity
	tpl.Spec.TopologySpreadConstraints = s.TopologySpreadConstraints
	tpl.Spec.PriorityClassName = s.PriorityClassName
	tpl.Spec.ImagePullSecrets = s.ImagePullSecrets
	if len(s.PodLabels) > 0 {
		tpl.Labels = mergeLabels(s.PodLabels, tpl.Labels)
	}
	if len(s.PodAnnotations) > 0 {
		tpl.Annotations = mergeLabels(s.PodAnnotations, tpl.Annotations)
	}
}

// podAnnotationsTracking is the Deployment annotation that records the
// podAnnotations of s (PodAnnotationsAnnotation), nil when there are none.
func podAnnotationsTracking(s *chatv1.PodSchedulingSpec) map[string]string {
	if len(s.PodAnnotations) == 0 {
		return nil
	}
	return map[string]string{PodAnnotationsAnnotation: strings.Join(slices.Sorted(maps.Keys(s.PodAnnotations)), ",")}
}

func httpProbe(path string, period int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: path, Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP,
		}},
		PeriodSeconds: period, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
	}
}

// dataPlaneLogFormat is the --log-format of the pods the operator creates:
// JSON, one object a line, like the operator's own logs.
const dataPlaneLogFormat = "json"

// chatServerArgs are the command-line arguments of the chat server container.
func chatServerArgs(hub *chatv1.ChatHub) []string {
	ttl := time.Hour
	if hub.Spec.Server.TokenTTL != nil {
		ttl = hub.Spec.Server.TokenTTL.Duration
	}
	args := []string{
		"chatserver",
		"--listen", ":" + strconv.Itoa(ChatServerPort),
		"--metrics-listen", ":" + strconv.Itoa(ChatServerMetricsPort),
		"--log-format", dataPlaneLogFormat,
		"--hub", EffectiveHub(hub),
		"--connection-string-file", connectionMountPath + "/" + SecretKeyConnectionString,
		"--token-ttl", ttl.String(),
	}
	if rl := hub.Spec.Server.MessageRateLimit; rl.PerSecond != nil {
		args = append(args, "--user-message-rate", strconv.Itoa(int(*rl.PerSecond)))
	}
	if rl := hub.Spec.Server.MessageRateLimit; rl.Burst != nil {
		args = append(args, "--user-message-burst", strconv.Itoa(int(*rl.Burst)))
	}
	args = append(args, authArgs(hub.Spec.Auth)...)
	src := sourceFor(hub)
	if src.InternalEventHandler() != nil {
		args = append(args, "--internal-listen", ":"+strconv.Itoa(ChatServerInternalPort))
	}
	return append(args, src.ChatServerArgs()...)
}

// authArgs are the chat server's sign-in flags for spec.auth (none for
// anonymous, the chat server's default).
func authArgs(a *chatv1.AuthSpec) []string {
	switch {
	case a == nil:
		return nil
	case a.Mode == chatv1.AuthHeader && a.Header != nil:
		args := []string{"--auth", string(a.Mode), "--trusted-proxies", strings.Join(a.Header.TrustedProxies, ",")}
		if a.Header.Name != "" {
			args = append(args, "--auth-header", a.Header.Name)
		}
		return args
	case a.Mode == chatv1.AuthOIDC && a.OIDC != nil:
		args := []string{"--auth", string(a.Mode), "--oidc-issuer-url", a.OIDC.IssuerURL, "--oidc-client-id", a.OIDC.ClientID}
		if a.OIDC.Audience != "" {
			args = append(args, "--oidc-audience", a.OIDC.Audience)
		}
		if a.OIDC.UserClaim != "" {
			args = append(args, "--oidc-user-claim", a.OIDC.UserClaim)
		}
		if len(a.OIDC.Scopes) > 0 {
			args = append(args, "--oidc-scopes", strings.Join(a.OIDC.Scopes, " "))
		}
		return args
	}
	return nil
}

// chatServerPorts are the chat server container's ports: http, metrics, and internal
// when the PubSub service runs in the cluster.
func chatServerPorts(hub *chatv1.ChatHub) []corev1.ContainerPort {
	ports := []corev1.ContainerPort{
		{Name: "http", ContainerPort: ChatServerPort, Protocol: corev1.ProtocolTCP},
		{Name: "metrics", ContainerPort: ChatServerMetricsPort, Protocol: corev1.ProtocolTCP},
	}
	if sourceFor(hub).InternalEventHandler() != nil {
		ports = append(ports, corev1.ContainerPort{Name: "internal", ContainerPort: ChatServerInternalPort, Protocol: corev1.ProtocolTCP})
	}
	return ports
}

// chatServerMetricsPort is the name of the chat server's port that serves
// /metrics (MetricsPortAnnotation): its own metrics port, whatever the
// source (never the public port an Ingress routes).
func chatServerMetricsPort(*chatv1.ChatHub) string { return "metrics" }

// buildChatService is the desired chat server Service: port http, and port
// internal when the PubSub service runs in the cluster.
func buildChatService(hub *chatv1.ChatHub) *corev1.Service {
	s := buildService(hub, ChatServerName(hub), componentChatServer, ChatServicePort)
	if sourceFor(hub).InternalEventHandler() != nil {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{
			Name: "internal", Port: ChatServerInternalPort, TargetPort: intstr.FromString("internal"), Protocol: corev1.ProtocolTCP,
		})
	}
	return s
}

// EventHandlerPolicyName is the name of the NetworkPolicy that keeps the
// chat server's internal port to the PubSub service's pods.
func EventHandlerPolicyName(hub *chatv1.ChatHub) string { return hub.Name + "-eventhandler" }

// operatorPodSelector selects the operator's pods (config/manager and the
// chart label them so), which check the handler's handshake.
func operatorPodSelector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": managerName}
}

// buildEventHandlerPolicy is the desired NetworkPolicy of hub's chat server
// pods: the internal port (event handler) only from the PubSub service's
// pods and the operator's, the public and metrics ports from anywhere. Nil
// when the PubSub service does not run in the cluster.
func buildEventHandlerPolicy(hub *chatv1.ChatHub) *networkingv1.NetworkPolicy {
	pubSubPods := sourceFor(hub).InternalEventHandler()
	if pubSubPods == nil {
		return nil
	}
	tcp := corev1.ProtocolTCP
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: EventHandlerPolicyName(hub), Namespace: hub.Namespace, Labels: Labels(hub, componentChatServer)},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(hub, componentChatServer)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{
					{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(ChatServerPort))},
					{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(ChatServerMetricsPort))},
				}},
				{
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(ChatServerInternalPort))}},
					From: []networkingv1.NetworkPolicyPeer{
						{PodSelector: &metav1.LabelSelector{MatchLabels: pubSubPods}},
						{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: operatorPodSelector()}},
					},
				},
			},
		},
	}
}

// deploymentDefaults sets the fields the API server would otherwise default.
func deploymentDefaults(d *appsv1.DeploymentSpec) {
	d.RevisionHistoryLimit = ptr.To[int32](10)
	d.ProgressDeadlineSeconds = ptr.To[int32](600)
}

// buildChatServerDeployment is the desired chat server Deployment.
func buildChatServerDeployment(hub *chatv1.ChatHub, image, connectionHash string) *appsv1.Deployment {
	c := corev1.Container{
		Name:           componentChatServer,
		Image:          image,
		Command:        dataPlaneCommand(hub.Spec.Server.Image),
		Args:           chatServerArgs(hub),
		Ports:          chatServerPorts(hub),
		ReadinessProbe: httpProbe("/readyz", 5),
		LivenessProbe:  httpProbe("/healthz", 10),
		Resources:      withDefaultRequests(hub.Spec.Server.Resources),
	}
	replicas := ptr.To[int32](1)
	if hub.Spec.Server.Replicas != nil {
		replicas = ptr.To(*hub.Spec.Server.Replicas)
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: ChatServerName(hub), Namespace: hub.Namespace, Labels: Labels(hub, componentChatServer),
			Annotations: podAnnotationsTracking(&hub.Spec.Server.PodSchedulingSpec),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(hub, componentChatServer)},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%")),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      Labels(hub, componentChatServer),
					Annotations: map[string]string{ConnectionHashAnnotation: connectionHash, MetricsPortAnnotation: chatServerMetricsPort(hub)},
				},
				Spec: podSpec(hub, c, []corev1.KeyToPath{{Key: SecretKeyConnectionString, Path: SecretKeyConnectionString}}),
			},
		},
	}
	withScheduling(&d.Spec.Template, &hub.Spec.Server.PodSchedulingSpec)
	deploymentDefaults(&d.Spec)
	return d
}

// buildEmbeddedDeployment is the desired Deployment of hub's PubSub service,
// configured by emb (pubSubDeployment, as for a WebPubSubService).
func buildEmbeddedDeployment(hub *chatv1.ChatHub, emb *chatv1.EmbeddedSource, image, connectionHash string) *appsv1.Deployment {
	if emb.Image != "" {
		image = emb.Image
	}
	c := pubSubContainer(image, dataPlaneCommand(cmp.Or(emb.Image, hub.Spec.Server.Image)), []string{
		"pubsub",
		"--listen", ":" + strconv.Itoa(EmbeddedPort),
		"--log-format", dataPlaneLogFormat,
		"--endpoint", EmbeddedEndpoint(hub).String(),
		"--access-key-file", connectionMountPath + "/" + SecretKeyAccessKey,
		"--settings-file", connectionMountPath + "/" + SecretKeySettings,
	}, emb.Resources)
	return pubSubDeployment(
		metav1.ObjectMeta{Name: EmbeddedName(hub), Namespace: hub.Namespace, Labels: Labels(hub, componentPubSub)},
		selectorLabels(hub, componentPubSub),
		map[string]string{ConnectionHashAnnotation: connectionHash, MetricsPortAnnotation: "http"},
		podSpec(hub, c, []corev1.KeyToPath{
			{Key: SecretKeyAccessKey, Path: SecretKeyAccessKey},
			{Key: SecretKeySettings, Path: SecretKeySettings},
		}),
		&emb.PodSchedulingSpec)
}

// pubSubContainer is the container of a PubSub service running command
// (nil: the image's entrypoint) with args.
func pubSubContainer(image string, command, args []string, res corev1.ResourceRequirements) corev1.Container {
	return corev1.Container{
		Name:    componentPubSub,
		Image:   image,
		Command: command,
		Args:    args,
		Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: EmbeddedPort, Protocol: corev1.ProtocolTCP}},
		// /readyz fails once the service shuts down or loses NATS, so the
		// Service sends new clients to the replicas that can serve them.
		ReadinessProbe: httpProbe("/readyz", 5),
		LivenessProbe:  httpProbe("/healthz", 10),
		Resources:      withDefaultRequests(res),
	}
}

// pubSubDeployment is the Deployment of a PubSub service, embedded or a
// WebPubSubService: meta's labels on the pods too, selected by selector,
// with the pod-template annotations, pod and scheduling fields given. It
// runs one replica (its connections are in memory) and is recreated, never
// surged.
func pubSubDeployment(meta metav1.ObjectMeta, selector, annotations map[string]string, pod corev1.PodSpec, sched *chatv1.PodSchedulingSpec) *appsv1.Deployment {
	meta.Annotations = podAnnotationsTracking(sched)
	d := &appsv1.Deployment{
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(meta.Labels), Annotations: annotations},
				Spec:       pod,
			},
		},
	}
	withScheduling(&d.Spec.Template, sched)
	deploymentDefaults(&d.Spec)
	return d
}

// buildPodDisruptionBudget is the desired PodDisruptionBudget of the chat
// server, or nil when it runs fewer than two replicas (a budget on one pod
// would block every node drain). maxUnavailable 1 rather than minAvailable
// replicas-1: it needs no update when replicas change and never blocks a
// drain while a rollout runs. Unhealthy pods may always be evicted, so a
// crash-looping server does not hold up maintenance either.
func buildPodDisruptionBudget(hub *chatv1.ChatHub) *policyv1.PodDisruptionBudget {
	if r := hub.Spec.Server.Replicas; r == nil || *r < 2 {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: ChatServerName(hub), Namespace: hub.Namespace, Labels: Labels(hub, componentChatServer)},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             ptr.To(intstr.FromInt32(1)),
			Selector:                   &metav1.LabelSelector{MatchLabels: selectorLabels(hub, componentChatServer)},
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
}

// buildService is the desired Service in front of one component's pods.
func buildService(hub *chatv1.ChatHub, name, component string, port int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: hub.Namespace, Labels: Labels(hub, component)},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: selectorLabels(hub, component),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: port, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

// buildIngress is the desired Ingress, or nil when spec.ingress is unset.
func buildIngress(hub *chatv1.ChatHub) *networkingv1.Ingress {
	spec := hub.Spec.Ingress
	if spec == nil {
		return nil
	}
	pathType := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{
			Name: ChatServerName(hub), Namespace: hub.Namespace,
			Labels: Labels(hub, componentChatServer), Annotations: spec.Annotations,
		},
		Spec: networkingv1.IngressSpec{
			IngressClassName: spec.ClassName,
			Rules: []networkingv1.IngressRule{{
				Host: spec.Host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: &pathType,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: ChatServerName(hub), Port: networkingv1.ServiceBackendPort{Name: "http"},
						}},
					}},
				}},
			}},
		},
	}
	if spec.TLSSecretName != "" {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{spec.Host}, SecretName: spec.TLSSecretName}}
	}
	return ing
}
