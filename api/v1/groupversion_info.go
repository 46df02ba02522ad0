// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package v1 holds the ChatHub API, group chat.webpubsub.dev, version v1.
//
// +kubebuilder:object:generate=true
// +groupName=chat.webpubsub.dev
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the ChatHub API.
	GroupVersion = schema.GroupVersion{Group: "chat.webpubsub.dev", Version: "v1"}

	// SchemeBuilder registers the API's types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the API's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers ChatHub, WebPubSubService and their lists, and the meta/v1 options types, for GroupVersion.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ChatHub{}, &ChatHubList{}, &WebPubSubService{}, &WebPubSubServiceList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
