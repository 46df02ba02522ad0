// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RotateKeyAnnotation on a WebPubSubService asks the operator to rotate one
// of its two access keys: "primary" or "secondary". The operator first moves
// every ChatHub of the instance onto the other key and waits until their chat
// servers are available with it, then regenerates the named key and removes
// the annotation (status.lastKeyRotation records it).
const RotateKeyAnnotation = "chat.webpubsub.dev/rotate-key"

// AccessKeyName names one of the two access keys of a WebPubSubService.
// +kubebuilder:validation:Enum=Primary;Secondary
type AccessKeyName string

// The two access keys.
const (
	// AccessKeyPrimary is the key stored under primaryKey.
	AccessKeyPrimary AccessKeyName = "Primary"
	// AccessKeySecondary is the key stored under secondaryKey.
	AccessKeySecondary AccessKeyName = "Secondary"
)

// WebPubSubServiceSpec is the desired state of a shared PubSub service
// instance: ChatHub's own Web PubSub-compatible service, serving the hubs of
// every ChatHub in the namespace that names it in
// spec.webPubSub.serviceRef.
// +kubebuilder:validation:XValidation:rule="!has(self.replicas) || self.replicas <= 1 || has(self.nats)",message="replicas above 1 share their hubs through NATS: set spec.nats (managed, or external)"
type WebPubSubServiceSpec struct {
	// image is the container image of the PubSub service. Default: the
	// operator's own image (set with the manager's --default-chat-image).
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources are the compute resources of the PubSub service's container.
	// Default: the same requests as the chat server's, no limits (a
	// Burstable pod). A request is defaulted only for a resource that has
	// neither a request nor a limit here, so what is set here wins.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// replicas is the number of PubSub service pods. Each pod holds the
	// connections that reached it; above 1 the pods share hubs, groups and
	// users through NATS (spec.nats is then required), and a
	// PodDisruptionBudget keeps all but one of them running during a
	// drain. With 1 (the default) the service runs alone and is recreated
	// on a change, as before.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Replicas *int32 `json:"replicas,omitempty"`

	// nats is the NATS the replicas share state through: a cluster the
	// operator runs for the instance (managed) or one that exists
	// (external). Required when replicas is above 1; a single replica
	// with nats set uses it too.
	// +optional
	NATS *NATSSpec `json:"nats,omitempty"`

	// The scheduling fields of the PubSub service's pods (nodeSelector,
	// tolerations, affinity, topologySpreadConstraints, priorityClassName,
	// imagePullSecrets, podLabels, podAnnotations). A single replica gets
	// no PodDisruptionBudget (one would block every node drain).
	PodSchedulingSpec `json:",inline"`
}

// NATSSpec says which NATS the replicas of a WebPubSubService use; exactly
// one of managed and external is set.
// +kubebuilder:validation:XValidation:rule="has(self.managed) != has(self.external)",message="set exactly one of nats.managed (the operator runs NATS) and nats.external (an existing NATS)"
type NATSSpec struct {
	// managed makes the operator run a NATS cluster for the instance: a
	// StatefulSet {name}-nats (cluster routes between its pods, a
	// generated password for clients and routes in the Secret
	// {name}-nats, a PodDisruptionBudget) and its headless Service.
	// +optional
	Managed *ManagedNATS `json:"managed,omitempty"`

	// external is an existing NATS (a cluster or a supercluster) the
	// replicas connect to.
	// +optional
	External *ExternalNATS `json:"external,omitempty"`
}

// ManagedNATS is the NATS cluster the operator runs for a WebPubSubService.
type ManagedNATS struct {
	// replicas is the number of NATS servers: 3 (the default) keeps NATS
	// up through the loss of one; 1 is for trying it out.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Enum=1;3;5
	Replicas *int32 `json:"replicas,omitempty"`

	// image is the NATS server image: its entrypoint must be nats-server
	// and the binary /nats-server (as in the official nats image; the
	// pre-stop hook runs it to enter lame-duck mode). Default: the
	// manager's --nats-image.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// resources are the compute resources of each NATS server. Default:
	// requests of 50m CPU and 64Mi memory, no limits.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// ExternalNATS is a NATS the user runs.
type ExternalNATS struct {
	// url lists the NATS servers, comma-separated: nats://host:4222, or
	// tls://host:4222 to require TLS.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches('^(nats|tls)://[^/?#@, ]+( *, *(nats|tls)://[^/?#@, ]+)*$')",message="url must be comma-separated nats://host:port or tls://host:port addresses, without credentials (put those in credentialsSecretRef)"
	URL string `json:"url"`

	// credentialsSecretRef names a Secret in the WebPubSubService's
	// namespace with the credentials to connect: key "creds" (a NATS
	// credentials file: JWT and NKey seed), or keys "user" and
	// "password". Optional: a NATS without authentication needs none.
	// +optional
	CredentialsSecretRef *corev1.LocalObjectReference `json:"credentialsSecretRef,omitempty"`

	// tlsSecretRef names a Secret in the WebPubSubService's namespace for
	// TLS to NATS: "ca.crt" (the CA that signed the servers' certificates)
	// and, for mutual TLS, "tls.crt" and "tls.key" (a kubernetes.io/tls
	// Secret with ca.crt works). Setting it makes the connection use TLS.
	// +optional
	TLSSecretRef *corev1.LocalObjectReference `json:"tlsSecretRef,omitempty"`
}

// WebPubSubServiceStatus is the observed state of a WebPubSubService. It
// never contains keys.
type WebPubSubServiceStatus struct {
	// observedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready and Available, each with its own
	// observedGeneration.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// endpoint is the in-cluster URL of the service,
	// http://{name}.{namespace}.svc:7070.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// hubs is the number of hubs the service holds settings for: one per
	// hub name among the ChatHubs that use the instance (the oldest ChatHub
	// of a hub owns it; the others report HubConflict).
	// +optional
	Hubs int32 `json:"hubs"`

	// keysSecretName is the Secret holding the two access keys (keys
	// primaryKey and secondaryKey), {name}-keys.
	// +optional
	KeysSecretName string `json:"keysSecretName,omitempty"`

	// settingsSecretName is the Secret holding the hub settings the service
	// loads at start (key settings.json), {name}-settings.
	// +optional
	SettingsSecretName string `json:"settingsSecretName,omitempty"`

	// activeKey is the key the ChatHubs of the instance use in their
	// connection Secrets: Primary unless a rotation of the primary key moved
	// them to Secondary.
	// +optional
	ActiveKey AccessKeyName `json:"activeKey,omitempty"`

	// replicas is the number of the service's pods that are available.
	// +optional
	Replicas int32 `json:"replicas"`
	// nats is the NATS the replicas share hubs through (its client URL,
	// never credentials); empty without one.
	// +optional
	NATS string `json:"nats,omitempty"`
	// lastKeyRotation is the last completed key rotation.
	// +optional
	LastKeyRotation *KeyRotation `json:"lastKeyRotation,omitempty"`
}

// KeyRotation is a completed rotation of one access key.
type KeyRotation struct {
	// key is the key that was regenerated.
	// +required
	Key AccessKeyName `json:"key"`

	// time is when the key was regenerated.
	// +required
	Time metav1.Time `json:"time"`
}

// WebPubSubService is a shared PubSub service instance (ChatHub's own Web
// PubSub-compatible service) that the operator runs as a Deployment, a
// Service, a keys Secret and a hub-settings Secret. ChatHubs in the same
// namespace use it with spec.webPubSub.serviceRef; each registers its own hub.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')",message="a WebPubSubService name must be a DNS label starting with a letter (at most 63 characters): it names the service's Deployment and Service"
// +kubebuilder:resource:shortName=wpss,categories={chat,all}
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Hubs",type=integer,JSONPath=`.status.hubs`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.replicas`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Active Key",type=string,JSONPath=`.status.activeKey`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type WebPubSubService struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the service.
	// +optional
	// +kubebuilder:default={}
	Spec WebPubSubServiceSpec `json:"spec,omitempty"`

	// status is the observed state of the service.
	// +optional
	Status WebPubSubServiceStatus `json:"status,omitempty"`
}

// WebPubSubServiceList is a list of WebPubSubServices.
//
// +kubebuilder:object:root=true
type WebPubSubServiceList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the list's metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the WebPubSubServices.
	Items []WebPubSubService `json:"items"`
}
