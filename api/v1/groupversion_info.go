// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package v1 holds the ChatHub API, group chat.webpubsub.dev, version v1.
//
// +kubebuilder:object:generate=true
// +groupName=chat.webpubsub.dev
package v1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the ChatHub API.
	GroupVersion = schema.GroupVersion{Group: "chat.webpubsub.dev", Version: "v1"}

	// SchemeBuilder registers the API's types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the API's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
