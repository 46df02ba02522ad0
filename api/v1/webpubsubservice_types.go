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

	// The scheduling fields of the PubSub service's pod (nodeSelector,
	// tolerations, affinity, topologySpreadConstraints, priorityClassName,
	// imagePullSecrets, podLabels, podAnnotations). The service runs one
	// replica (its connections are in memory), so it gets no
	// PodDisruptionBudget; one would block every node drain.
	PodSchedulingSpec `json:",inline"`
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
