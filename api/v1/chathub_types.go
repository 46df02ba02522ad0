// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ChatHubSpec is the desired state of a ChatHub: one real-time chat backed by
// one Azure Web PubSub hub.
//
// +kubebuilder:validation:XValidation:rule="has(self.hub) == has(oldSelf.hub) && (!has(self.hub) || self.hub == oldSelf.hub)",message="spec.hub cannot be changed: the event handler is registered under the old hub name; create a new ChatHub instead"
type ChatHubSpec struct {
	// hub is the Web PubSub hub name. It must start with a letter and contain
	// only letters, digits and the characters _ ` , . [ ] (at most 128
	// characters). When empty, the hub is metadata.name with every '-'
	// replaced by '_' (status.hub shows the effective name). It cannot be
	// changed after creation.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z][]A-Za-z0-9_`,.[]{0,127}$')",message="spec.hub must start with a letter and contain only letters, digits and _ ` , . [ ] (at most 128 characters)"
	Hub string `json:"hub,omitempty"`

	// webPubSub says where the Web PubSub service and its connection string
	// come from: exactly one of connectionStringSecretRef, azure, embedded or
	// serviceRef.
	// The kind of source cannot be changed after creation.
	// +required
	WebPubSub WebPubSubSource `json:"webPubSub"`

	// eventHandler configures the event handler the operator registers with
	// the service for this hub.
	// +optional
	// +kubebuilder:default={}
	EventHandler EventHandlerSpec `json:"eventHandler,omitempty"`

	// server configures the chat server Deployment.
	// +optional
	// +kubebuilder:default={}
	Server ServerSpec `json:"server,omitempty"`

	// ingress, when set, exposes the chat server through an Ingress.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// auth says how the chat learns who is speaking: anonymous (the name
	// the browser chooses, as in the Azure tutorial), header (an
	// authenticating proxy in front of the chat names the user) or oidc
	// (the page signs in with an OpenID Connect provider). Default:
	// anonymous.
	// +optional
	Auth *AuthSpec `json:"auth,omitempty"`
}

// AuthMode is how the chat learns who is speaking.
// +kubebuilder:validation:Enum=anonymous;header;oidc
type AuthMode string

// The sign-in modes.
const (
	// AuthAnonymous: the browser names itself (?id= of /negotiate).
	AuthAnonymous AuthMode = "anonymous"
	// AuthHeader: a trusted authenticating proxy names the user in a header.
	AuthHeader AuthMode = "header"
	// AuthOIDC: a bearer token from an OpenID Connect provider names the user.
	AuthOIDC AuthMode = "oidc"
)

// AuthSpec configures who may speak in the chat, and as whom. In every
// mode the user id is checked as a chat name (at most 64 characters, no
// control or text-direction characters) and the client access token the
// chat server issues carries exactly that id.
//
// +kubebuilder:validation:XValidation:rule="self.mode != 'header' || has(self.header)",message="auth.mode header needs auth.header with the trustedProxies whose header is believed"
// +kubebuilder:validation:XValidation:rule="self.mode != 'oidc' || has(self.oidc)",message="auth.mode oidc needs auth.oidc with issuerURL and clientID"
// +kubebuilder:validation:XValidation:rule="!has(self.header) || self.mode == 'header'",message="auth.header is used only with auth.mode header"
// +kubebuilder:validation:XValidation:rule="!has(self.oidc) || self.mode == 'oidc'",message="auth.oidc is used only with auth.mode oidc"
type AuthSpec struct {
	// mode is anonymous, header or oidc.
	// +optional
	// +kubebuilder:default=anonymous
	Mode AuthMode `json:"mode,omitempty"`

	// header configures mode header.
	// +optional
	Header *HeaderAuth `json:"header,omitempty"`

	// oidc configures mode oidc.
	// +optional
	OIDC *OIDCAuth `json:"oidc,omitempty"`
}

// HeaderAuth trusts an authenticating proxy (oauth2-proxy, an ingress with
// external authentication) to name the user in a request header. The query
// parameter ?id= is then ignored and the page does not ask for a name.
type HeaderAuth struct {
	// name is the request header that names the user. The default is what
	// oauth2-proxy answers in auth_request mode and ingress-nginx passes on
	// with auth-response-headers; oauth2-proxy as a reverse proxy sets
	// X-Forwarded-User.
	// +optional
	// +kubebuilder:default=X-Auth-Request-User
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9][A-Za-z0-9-]*$')",message="auth.header.name must be a header name of letters, digits and dashes"
	Name string `json:"name,omitempty"`

	// trustedProxies are the addresses or CIDR ranges of the proxies (for
	// example 127.0.0.1 for a sidecar, or the ingress controller's pod
	// range). A request from any other address is refused with 403,
	// whatever its headers say. A range covering every address is refused.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(p, isIP(p) || isCIDR(p))",message="auth.header.trustedProxies must be IP addresses or CIDR ranges such as 10.0.0.0/8"
	// +kubebuilder:validation:XValidation:rule="self.all(p, !isCIDR(p) || cidr(p).prefixLength() > 0)",message="auth.header.trustedProxies must not contain a range covering every address: anyone could name themselves"
	TrustedProxies []string `json:"trustedProxies"`
}

// OIDCAuth has the page sign in with an OpenID Connect provider (the
// authorization-code flow with PKCE, as a public client; tokens stay in the
// page's memory) and /negotiate accept only a valid token of that provider:
// signature (keys from its JWKS, rotation followed), issuer, audience and
// expiry are checked.
type OIDCAuth struct {
	// issuerURL is the provider's issuer; its discovery document is
	// issuerURL + /.well-known/openid-configuration. Must use https.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHost() != '' && url(self).getQuery().size() == 0",message="auth.oidc.issuerURL must be an https URL without a query"
	IssuerURL string `json:"issuerURL"`

	// clientID is the public client the page signs in as. Register the
	// chat's URL (https://<host>/) as its redirect URI.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ClientID string `json:"clientID"`

	// audience is the audience a token must carry. Default: clientID, the
	// audience of the provider's ID tokens.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Audience string `json:"audience,omitempty"`

	// userClaim is the token claim whose value is the user id.
	// +optional
	// +kubebuilder:default=preferred_username
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	UserClaim string `json:"userClaim,omitempty"`

	// scopes are the scopes the page asks for; they must include openid.
	// +optional
	// +kubebuilder:default={openid,profile}
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[!#-\[\]-~]+$`
	// +kubebuilder:validation:XValidation:rule="self.exists(s, s == 'openid')",message="auth.oidc.scopes must include openid"
	Scopes []string `json:"scopes,omitempty"`
}

// WebPubSubSource is the source of the Web PubSub connection. Exactly one
// field is set.
//
// +kubebuilder:validation:XValidation:rule="[has(self.connectionStringSecretRef), has(self.azure), has(self.embedded), has(self.serviceRef)].filter(x, x).size() == 1",message="spec.webPubSub must set exactly one of connectionStringSecretRef, azure, embedded or serviceRef"
// +kubebuilder:validation:XValidation:rule="has(self.connectionStringSecretRef) == has(oldSelf.connectionStringSecretRef) && has(self.azure) == has(oldSelf.azure) && has(self.embedded) == has(oldSelf.embedded) && has(self.serviceRef) == has(oldSelf.serviceRef)",message="the kind of spec.webPubSub source (connectionStringSecretRef, azure, embedded or serviceRef) cannot be changed: the event handler registered with the old service would be left behind; create a new ChatHub instead"
type WebPubSubSource struct {
	// connectionStringSecretRef names a Secret in the ChatHub's namespace that
	// holds a Web PubSub connection string. The operator copies it into the
	// connection Secret and follows its rotation. It cannot register the
	// event handler with such a source: status says which URL to register by
	// hand.
	// +optional
	ConnectionStringSecretRef *SecretKeySelector `json:"connectionStringSecretRef,omitempty"`

	// azure names an Azure Web PubSub resource. The operator reads its keys
	// with ARM listKeys and registers the event handler through ARM, signed
	// in with Microsoft Entra ID (workload identity first).
	// +optional
	Azure *AzureSource `json:"azure,omitempty"`

	// embedded makes the operator run ChatHub's own Web PubSub-compatible
	// service for this hub, next to the chat server, with a generated key.
	// +optional
	Embedded *EmbeddedSource `json:"embedded,omitempty"`

	// serviceRef names a WebPubSubService in the ChatHub's namespace: a
	// PubSub service instance the operator runs once for many hubs. The
	// operator takes the connection from the instance's keys Secret (the
	// key the instance says is active) and registers the event handler with
	// the instance. Two ChatHubs with the same hub on one instance conflict
	// (HubConflict; the oldest owns the hub).
	// +optional
	ServiceRef *ServiceReference `json:"serviceRef,omitempty"`
}

// ServiceReference names a WebPubSubService in the ChatHub's namespace.
type ServiceReference struct {
	// name is the name of the WebPubSubService. It cannot be changed after
	// creation: the event handler registered with the old instance would be
	// left behind.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="serviceRef.name must be a valid WebPubSubService name (lower-case letters, digits and '-', starting with a letter)"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="serviceRef.name cannot be changed: the event handler registered with the old instance would be left behind; create a new ChatHub instead"
	Name string `json:"name"`
}

// SecretKeySelector selects one key of a Secret in the ChatHub's namespace.
type SecretKeySelector struct {
	// name is the name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="connectionStringSecretRef.name must be a valid Secret name (lower-case letters, digits, '-' and '.')"
	Name string `json:"name"`

	// key is the key in the Secret's data that holds the connection string.
	// +optional
	// +kubebuilder:default=connectionString
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[-._a-zA-Z0-9]+$')",message="connectionStringSecretRef.key must contain only letters, digits, '-', '_' and '.'"
	Key string `json:"key,omitempty"`
}

// AzureSource names an Azure Web PubSub resource managed through ARM.
type AzureSource struct {
	// resourceID is the ARM ID of the Web PubSub resource, in the form
	// /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.SignalRService/webPubSub/{name}.
	// It cannot be changed after creation.
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.matches('^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\\\.SignalRService/(?i:webPubSub)/[^/]+$')",message="azure.resourceID must look like /subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.SignalRService/webPubSub/{name}"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="azure.resourceID cannot be changed: the event handler registered with the old resource would be left behind; create a new ChatHub instead"
	ResourceID string `json:"resourceID"`

	// managementEndpoint is the base URL of Azure Resource Manager. Change it
	// only for sovereign clouds (or a local ARM-compatible service in tests).
	// +optional
	// +kubebuilder:default="https://management.azure.com"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?$')",message="azure.managementEndpoint must be an http(s) URL with a host and no path, such as https://management.azure.com"
	ManagementEndpoint string `json:"managementEndpoint,omitempty"`
}

// EmbeddedSource configures the PubSub service the
// operator runs for the hub.
type EmbeddedSource struct {
	// image is the container image of the PubSub service. Default: the chat
	// server's image (one image serves every role). The operator's own image
	// runs its light /chathub-data binary; an image set here (or in
	// server.image) runs its entrypoint with the subcommand "pubsub".
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources are the compute resources of the PubSub service's container.
	// Default: requests of cpu 10m and memory 24Mi, no limits (a Burstable
	// pod): the service idles at about 12 MiB resident with the operator's
	// image (measured by make bench-idle), and each connection adds to it.
	// A request is defaulted only for a resource that has neither a
	// request nor a limit here, so what is set here wins.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// The scheduling fields of the PubSub service's pod (nodeSelector,
	// tolerations, affinity, topologySpreadConstraints, priorityClassName,
	// imagePullSecrets, podLabels, podAnnotations). It runs one replica, so
	// it gets no PodDisruptionBudget.
	PodSchedulingSpec `json:",inline"`
}

// PodSchedulingSpec holds the fields that decide where and how a pod the
// operator creates is scheduled and labelled. The operator re-applies them
// on every reconcile; they go on the pod template only.
type PodSchedulingSpec struct {
	// nodeSelector restricts the pods to nodes with these labels.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations let the pods run on nodes with matching taints.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity holds node affinity and pod (anti-)affinity rules for the pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// topologySpreadConstraints spread the pods across zones or nodes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// priorityClassName is the PriorityClass of the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// imagePullSecrets name Secrets in the ChatHub's namespace used to pull
	// the image.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// podLabels are added to the pod template's labels. They cannot set the
	// labels the operator selects and marks its pods with:
	// app.kubernetes.io/name, app.kubernetes.io/instance,
	// app.kubernetes.io/component and app.kubernetes.io/managed-by.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="!('app.kubernetes.io/name' in self) && !('app.kubernetes.io/instance' in self) && !('app.kubernetes.io/component' in self) && !('app.kubernetes.io/managed-by' in self)",message="podLabels cannot set app.kubernetes.io/name, app.kubernetes.io/instance, app.kubernetes.io/component or app.kubernetes.io/managed-by: the operator selects its pods by these labels"
	PodLabels map[string]string `json:"podLabels,omitempty"`

	// podAnnotations are added to the pod template's annotations. They cannot
	// set chat.webpubsub.dev/connection-hash, which the operator uses to roll
	// the pods when the connection Secret changes.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="!('chat.webpubsub.dev/connection-hash' in self)",message="podAnnotations cannot set chat.webpubsub.dev/connection-hash: the operator sets it to roll the pods when the connection Secret changes"
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`
}

// SystemEvent is a Web PubSub system event an event handler can subscribe to.
// +kubebuilder:validation:Enum=connect;connected;disconnected
type SystemEvent string

// The system events of Web PubSub.
const (
	// SystemEventConnect is the blocking event sent before a client connects.
	SystemEventConnect SystemEvent = "connect"
	// SystemEventConnected is sent after a client has connected.
	SystemEventConnected SystemEvent = "connected"
	// SystemEventDisconnected is sent after a client has disconnected.
	SystemEventDisconnected SystemEvent = "disconnected"
)

// EventHandlerSpec configures the event handler registered for the hub.
type EventHandlerSpec struct {
	// url is the URL template the service calls with events, e.g.
	// https://chat.example.com/eventhandler. It may contain {hub} and {event}
	// in its path, never in its host. Default: when the PubSub service runs in
	// the cluster (embedded, serviceRef), the internal port of the chat
	// server's Service, http://{name}.{namespace}.svc:8081/eventhandler;
	// otherwise https://{ingress.host}/eventhandler (http when the Ingress has
	// no TLS) when an Ingress is set, else the chat server's in-cluster
	// Service, http://{name}.{namespace}.svc/eventhandler.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\\\\s]*)?$')",message="eventHandler.url must be an http or https URL with a plain host (placeholders such as {event} are allowed only in the path)"
	URL string `json:"url,omitempty"`

	// userEventPattern selects the user events sent to the handler: "*" for
	// all, one event name, or a comma-separated list of names.
	// +optional
	// +kubebuilder:default="*"
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('^(\\\\*|[^,\\\\s]+(,[^,\\\\s]+)*)$')",message="eventHandler.userEventPattern must be \"*\" or a comma-separated list of event names without spaces"
	UserEventPattern string `json:"userEventPattern,omitempty"`

	// systemEvents are the system events sent to the handler. The chat needs
	// connected and disconnected to announce who joins and leaves.
	// +optional
	// +kubebuilder:default={connected,disconnected}
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	SystemEvents []SystemEvent `json:"systemEvents,omitempty"`

	// registration says who registers the event handler with the service.
	// Automatic (the default): the operator does, when the source lets it
	// (azure, embedded); with a connection-string source it cannot, and
	// condition EventHandlerRegistered is False with reason
	// ManualRegistrationRequired, saying what to register. Manual: the user
	// has registered it (or will); the operator registers nothing and
	// condition EventHandlerRegistered is Unknown with reason Manual, which
	// does not hold Ready back.
	// +optional
	// +kubebuilder:default=Automatic
	Registration RegistrationMode `json:"registration,omitempty"`
}

// RegistrationMode says who registers the event handler.
// +kubebuilder:validation:Enum=Automatic;Manual
type RegistrationMode string

// The registration modes.
const (
	// RegistrationAutomatic: the operator registers the event handler.
	RegistrationAutomatic RegistrationMode = "Automatic"
	// RegistrationManual: the user registers the event handler.
	RegistrationManual RegistrationMode = "Manual"
)

// ServerSpec configures the chat server Deployment.
type ServerSpec struct {
	// replicas is the number of chat server pods.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Replicas *int32 `json:"replicas,omitempty"`

	// image is the chat server's container image. Default: the operator's
	// own image (set with the manager's --default-chat-image), whose light
	// /chathub-data binary the operator runs; an image set here runs its
	// entrypoint with the subcommand "chatserver".
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources are the compute resources of the chat server container.
	// Default: requests of cpu 10m and memory 24Mi, no limits (a Burstable
	// pod): the chat server idles at about 12 MiB resident with the
	// operator's image (measured by make bench-idle). A request is
	// defaulted only for a resource that has neither a request nor a limit
	// here, so what is set here wins.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// tokenTTL is how long the client access tokens handed out by /negotiate
	// stay valid, between 1m and 24h.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Format=duration
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="server.tokenTTL must be between 1m and 24h"
	TokenTTL *metav1.Duration `json:"tokenTTL,omitempty"`

	// messageRateLimit is how many chat messages one user may send. Over
	// the limit a message is not broadcast and the sender alone gets a
	// refusal. It is counted by each chat server replica on its own.
	// +optional
	// +kubebuilder:default={}
	MessageRateLimit MessageRateLimit `json:"messageRateLimit,omitempty"`

	// The scheduling fields of the chat server's pods (nodeSelector,
	// tolerations, affinity, topologySpreadConstraints, priorityClassName,
	// imagePullSecrets, podLabels, podAnnotations). With more than one
	// replica the operator also keeps a PodDisruptionBudget named like the
	// Deployment with maxUnavailable 1.
	PodSchedulingSpec `json:",inline"`
}

// MessageRateLimit is a token bucket per user: burst messages at once, then
// perSecond messages per second.
type MessageRateLimit struct {
	// perSecond is how many messages per second one user may send after the
	// burst; 0 turns the limit off.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:XValidation:rule="self >= 0 && self <= 1000000",message="server.messageRateLimit.perSecond must be between 0 (no limit) and 1000000"
	PerSecond *int32 `json:"perSecond,omitempty"`

	// burst is how many messages one user may send at once.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:XValidation:rule="self >= 1 && self <= 1000000",message="server.messageRateLimit.burst must be between 1 and 1000000"
	Burst *int32 `json:"burst,omitempty"`
}

// IngressSpec exposes the chat server through an Ingress.
type IngressSpec struct {
	// className is the IngressClass to use. Default: the cluster's default
	// IngressClass.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ClassName *string `json:"className,omitempty"`

	// host is the DNS name the chat is served on, e.g. chat.example.com.
	// +required
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="ingress.host must be a lower-case DNS name such as chat.example.com (no scheme, port or path)"
	Host string `json:"host"`

	// tlsSecretName names a Secret of type kubernetes.io/tls for the host.
	// When set, the chat is served over https.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// annotations are added to the Ingress (e.g. for cert-manager).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Annotations map[string]string `json:"annotations,omitempty"`
}

// SourceKind names the kind of Web PubSub source a ChatHub uses.
type SourceKind string

// The kinds of Web PubSub source.
const (
	// SourceConnectionString is a connection string from a user's Secret.
	SourceConnectionString SourceKind = "ConnectionString"
	// SourceAzure is an Azure Web PubSub resource managed through ARM.
	SourceAzure SourceKind = "Azure"
	// SourceEmbedded is the PubSub service run by the operator.
	SourceEmbedded SourceKind = "Embedded"
	// SourceServiceRef is a shared PubSub service instance (a
	// WebPubSubService) run by the operator.
	SourceServiceRef SourceKind = "ServiceRef"
)

// ChatHubStatus is the observed state of a ChatHub. It never contains keys.
type ChatHubStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, ConnectionSecretReady, ServerAvailable and
	// EventHandlerRegistered, each with its own observedGeneration.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// hub is the effective Web PubSub hub name.
	// +optional
	Hub string `json:"hub,omitempty"`

	// source is the kind of Web PubSub source: ConnectionString, Azure,
	// Embedded or ServiceRef.
	// +optional
	Source SourceKind `json:"source,omitempty"`

	// connectionSecretName is the Secret holding the connection string the
	// chat server uses (key connectionString).
	// +optional
	ConnectionSecretName string `json:"connectionSecretName,omitempty"`

	// endpoint is the Web PubSub endpoint, without any key.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// eventHandlerURL is the event handler URL template: the one last
	// registered successfully (it changes only after the service accepted the
	// new one), or, when the operator does not register (condition
	// EventHandlerRegistered has reason ManualRegistrationRequired or Manual),
	// the one to register by hand.
	// +optional
	EventHandlerURL string `json:"eventHandlerURL,omitempty"`

	// registeredEventHandlers are the event handler URL templates this
	// ChatHub has registered with the service and not yet removed, updated
	// only after the service accepted a change. Deleting the ChatHub removes
	// every one of them.
	// +optional
	// +listType=set
	RegisteredEventHandlers []string `json:"registeredEventHandlers,omitempty"`

	// pendingOperation is a long-running hub-settings operation the
	// operator started and polls on later reconciles; absent when none runs.
	// +optional
	PendingOperation *PendingOperation `json:"pendingOperation,omitempty"`

	// url is where users open the chat: the Ingress URL, or the chat
	// server's in-cluster Service URL.
	// +optional
	URL string `json:"url,omitempty"`

	// replicas is the desired number of chat server pods.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of chat server pods ready to serve.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// replicasReady is readyReplicas/replicas (e.g. "1/2"), for the
	// Replicas printer column.
	// +optional
	ReplicasReady string `json:"replicasReady,omitempty"`
}

// PendingOperation is a long-running ARM operation on a hub's settings.
type PendingOperation struct {
	// action is what the operation does: Register or Unregister.
	// +kubebuilder:validation:Enum=Register;Unregister
	Action string `json:"action"`

	// hub is the hub whose settings the operation changes.
	Hub string `json:"hub"`

	// kind is how the operation is polled: AzureAsyncOperation (a status
	// document) or Location (202 until done).
	Kind string `json:"kind"`

	// url is the operation's polling URL on the management endpoint.
	URL string `json:"url"`

	// eventHandlers are the event handler URL templates of this ChatHub the
	// hub's settings hold once the operation succeeds.
	// +optional
	EventHandlers []string `json:"eventHandlers,omitempty"`

	// startTime is when the operation started.
	StartTime metav1.Time `json:"startTime"`
}

// ChatHub is a real-time chat on Azure Web PubSub (or ChatHub's own PubSub
// service): the operator runs its chat server, stores its connection string
// in a Secret and registers its event handler with the service.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="has(self.spec.hub) || self.metadata.name.matches('^[a-z][-a-z0-9.]{0,127}$')",message="spec.hub is required when metadata.name is not a valid hub name (it must start with a letter and be at most 128 characters)"
// +kubebuilder:resource:shortName=chub,categories={chat,all}
// +kubebuilder:printcolumn:name="Hub",type=string,JSONPath=`.status.hub`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.status.source`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Replicas",type=string,JSONPath=`.status.replicasReady`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`,priority=1
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ChatHub struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the chat.
	// +required
	Spec ChatHubSpec `json:"spec"`

	// status is the observed state of the chat.
	// +optional
	Status ChatHubStatus `json:"status,omitempty"`
}

// ChatHubList is a list of ChatHubs.
//
// +kubebuilder:object:root=true
type ChatHubList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the list's metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the ChatHubs.
	Items []ChatHub `json:"items"`
}
