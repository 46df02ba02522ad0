// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// HubSettings is the ARM resource Microsoft.SignalRService/WebPubSub/hubs.
type HubSettings struct {
	// ID is the ARM resource id, set by the service.
	ID string `json:"id,omitempty"`
	// Name is the hub name, set by the service.
	Name string `json:"name,omitempty"`
	// Type is the ARM resource type, set by the service.
	Type string `json:"type,omitempty"`
	// Properties are the hub's settings.
	Properties HubProperties `json:"properties"`
}

// HubProperties are the settings of one hub.
type HubProperties struct {
	// EventHandlers receive upstream events, tried in order.
	EventHandlers []EventHandlerSettings `json:"eventHandlers,omitempty"`
	// EventListeners receive events without replying (e.g. Event Hubs), kept verbatim.
	EventListeners []json.RawMessage `json:"eventListeners,omitempty"`
	// AnonymousConnectPolicy is "allow" or "deny" (the service default).
	AnonymousConnectPolicy string `json:"anonymousConnectPolicy,omitempty"`
	// WebSocketKeepAliveIntervalInSeconds is 1..120, default 20.
	WebSocketKeepAliveIntervalInSeconds *int32 `json:"webSocketKeepAliveIntervalInSeconds,omitempty"`
}

// EventHandlerSettings is one upstream event handler.
type EventHandlerSettings struct {
	// URLTemplate is the handler URL; {hub} and {event} are substituted.
	URLTemplate string `json:"urlTemplate"`
	// UserEventPattern selects user events: "*", "a,b" or one name.
	UserEventPattern string `json:"userEventPattern,omitempty"`
	// SystemEvents lists the system events sent: connect, connected, disconnected.
	SystemEvents []string `json:"systemEvents,omitempty"`
	// Auth is how the service authenticates to the handler.
	Auth *UpstreamAuthSettings `json:"auth,omitempty"`
}

// UpstreamAuthSettings is how the service authenticates to an event handler.
type UpstreamAuthSettings struct {
	// Type is "None" or "ManagedIdentity".
	Type string `json:"type,omitempty"`
	// ManagedIdentity configures the ManagedIdentity type.
	ManagedIdentity *ManagedIdentitySettings `json:"managedIdentity,omitempty"`
}

// ManagedIdentitySettings names the audience of the managed identity token.
type ManagedIdentitySettings struct {
	// Resource is the token audience (an app id URI).
	Resource string `json:"resource,omitempty"`
}

// Keys are the access keys and connection strings of a Web PubSub resource.
type Keys struct {
	// PrimaryKey is the primary access key.
	PrimaryKey string `json:"primaryKey,omitempty"`
	// SecondaryKey is the secondary access key.
	SecondaryKey string `json:"secondaryKey,omitempty"`
	// PrimaryConnectionString is the connection string with the primary key.
	PrimaryConnectionString string `json:"primaryConnectionString,omitempty"`
	// SecondaryConnectionString is the connection string with the secondary key.
	SecondaryConnectionString string `json:"secondaryConnectionString,omitempty"`
}

// String redacts the keys so that Keys can be printed safely.
func (k Keys) String() string { return "Keys{***}" }

// GoString redacts the keys for %#v.
func (k Keys) GoString() string { return "webpubsub.Keys{***}" }

// ResourceID identifies a Web PubSub resource in ARM.
type ResourceID struct {
	// SubscriptionID is the Azure subscription.
	SubscriptionID string
	// ResourceGroup is the resource group.
	ResourceGroup string
	// Name is the Web PubSub resource name.
	Name string
}

const resourceIDShape = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.SignalRService/webPubSub/{name}"

// ParseResourceID parses
// /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.SignalRService/webPubSub/{name}.
// Segment names and the provider are matched case-insensitively, as ARM does.
func ParseResourceID(id string) (ResourceID, error) {
	fail := func(why string) (ResourceID, error) {
		return ResourceID{}, fmt.Errorf("resource ID %q is invalid: %s; want %s", truncate(id, 300), why, resourceIDShape)
	}
	if id == "" {
		return ResourceID{}, fmt.Errorf("resource ID is empty; want %s", resourceIDShape)
	}
	if !strings.HasPrefix(id, "/") {
		return fail("it must start with /")
	}
	parts := strings.Split(strings.TrimSuffix(id[1:], "/"), "/")
	want := []string{"subscriptions", "", "resourceGroups", "", "providers", "Microsoft.SignalRService", "webPubSub", ""}
	if len(parts) != len(want) {
		return fail(fmt.Sprintf("it has %d segments, want %d", len(parts), len(want)))
	}
	key := "" // the fixed segment before a value
	for i, w := range want {
		if w == "" {
			if parts[i] == "" {
				return fail(fmt.Sprintf("the value after %q is empty", key))
			}
			if p, err := url.PathUnescape(parts[i]); err != nil || p != parts[i] || strings.ContainsAny(parts[i], "?#") {
				return fail(fmt.Sprintf("the value after %q has characters not allowed in a resource ID", key))
			}
			continue
		}
		if !strings.EqualFold(parts[i], w) {
			return fail(fmt.Sprintf("segment %d is %q, want %q", i+1, truncate(parts[i], 64), w))
		}
		key = w
	}
	return ResourceID{SubscriptionID: parts[1], ResourceGroup: parts[3], Name: parts[7]}, nil
}

// String returns the canonical resource id.
func (r ResourceID) String() string {
	return "/subscriptions/" + r.SubscriptionID + "/resourceGroups/" + r.ResourceGroup +
		"/providers/Microsoft.SignalRService/webPubSub/" + r.Name
}

func (r ResourceID) validate() error {
	if r.SubscriptionID == "" || r.ResourceGroup == "" || r.Name == "" {
		return errors.New("resource ID needs a subscription, a resource group and a name")
	}
	_, err := ParseResourceID(r.String())
	return err
}
