// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Protocol constants shared by the REST client, the event handler and the PubSub service.
const (
	// DefaultAPIVersion is the data-plane REST api-version the Client sends.
	DefaultAPIVersion = "2024-12-01"
	// ARMAPIVersion is the management-plane api-version the HubsClient sends.
	ARMAPIVersion = "2024-03-01"

	// SubprotocolJSON is the JSON WebSocket subprotocol.
	SubprotocolJSON = "json.webpubsub.azure.v1"
	// SubprotocolJSONReliable is the reliable JSON WebSocket subprotocol.
	SubprotocolJSONReliable = "json.reliable.webpubsub.azure.v1"

	// RoleJoinLeaveGroup lets a client join and leave any group; append "." + group for one group.
	RoleJoinLeaveGroup = "webpubsub.joinLeaveGroup"
	// RoleSendToGroup lets a client send to any group; append "." + group for one group.
	RoleSendToGroup = "webpubsub.sendToGroup"
	// ClaimRole is the JWT claim holding the client's roles (a JSON array).
	ClaimRole = "role"
	// ClaimGroup is the JWT claim holding the groups a client joins on connect (a JSON array).
	ClaimGroup = "webpubsub.group"

	// HeaderSpecVersion is the CloudEvents spec version header.
	HeaderSpecVersion = "ce-specversion"
	// HeaderType is the CloudEvents type header (e.g. azure.webpubsub.sys.connect).
	HeaderType = "ce-type"
	// HeaderSource is the CloudEvents source header (/hubs/{hub}/client/{connectionId}).
	HeaderSource = "ce-source"
	// HeaderID is the CloudEvents event id header.
	HeaderID = "ce-id"
	// HeaderTime is the CloudEvents time header (RFC 3339).
	HeaderTime = "ce-time"
	// HeaderSignature carries "sha256=<hex>" entries, one per access key.
	HeaderSignature = "ce-signature"
	// HeaderUserID carries the connection's user id, absent when there is none.
	HeaderUserID = "ce-userId"
	// HeaderConnectionID carries the connection id.
	HeaderConnectionID = "ce-connectionId"
	// HeaderHub carries the hub name.
	HeaderHub = "ce-hub"
	// HeaderEventName carries the event name (connect, connected, disconnected or a user event).
	HeaderEventName = "ce-eventName"
	// HeaderSubprotocol carries the connection's selected subprotocol, absent when there is none.
	HeaderSubprotocol = "ce-subprotocol"
	// HeaderConnectionState carries the connection state (base64 of a JSON object).
	HeaderConnectionState = "ce-connectionState"
	// HeaderAWPSVersion carries the Web PubSub upstream protocol version ("1.0").
	HeaderAWPSVersion = "ce-awpsversion"
	// HeaderRequestOrigin is the abuse-protection request header naming the service host.
	HeaderRequestOrigin = "WebHook-Request-Origin"
	// HeaderAllowedOrigin is the abuse-protection response header.
	HeaderAllowedOrigin = "WebHook-Allowed-Origin"
	// HeaderErrorCode is the REST error code response header.
	HeaderErrorCode = "x-ms-error-code"

	// EventTypeConnect is the ce-type of the connect event.
	EventTypeConnect = "azure.webpubsub.sys.connect"
	// EventTypeConnected is the ce-type of the connected event.
	EventTypeConnected = "azure.webpubsub.sys.connected"
	// EventTypeDisconnected is the ce-type of the disconnected event.
	EventTypeDisconnected = "azure.webpubsub.sys.disconnected"
	// EventTypeUserPrefix prefixes the ce-type of user events.
	EventTypeUserPrefix = "azure.webpubsub.user."

	// ContentTypeText is the content type of text messages.
	ContentTypeText = "text/plain"
	// ContentTypeJSON is the content type of JSON messages.
	ContentTypeJSON = "application/json"
	// ContentTypeBinary is the content type of binary messages.
	ContentTypeBinary = "application/octet-stream"
)

// Name limits of the service.
const (
	maxHubNameLen   = 128
	maxGroupNameLen = 1024
)

var hubNamePattern = regexp.MustCompile("^[A-Za-z][A-Za-z0-9_`,.\\[\\]]{0,127}$")

// ValidateHubName reports whether hub is a valid hub name: a letter followed by up to 127
// letters, digits or any of _ ` , . [ ].
func ValidateHubName(hub string) error {
	switch {
	case hub == "":
		return errors.New("hub name is empty")
	case len(hub) > maxHubNameLen:
		return fmt.Errorf("hub name is %d characters long, the limit is %d", len(hub), maxHubNameLen)
	case !hubNamePattern.MatchString(hub):
		return fmt.Errorf("hub name %q is invalid: it must start with a letter and contain only letters, digits and _ ` , . [ ]", hub)
	}
	return nil
}

// ValidateGroupName reports whether g is a valid group name: 1 to 1024 characters, not all
// whitespace.
func ValidateGroupName(g string) error {
	switch {
	case g == "":
		return errors.New("group name is empty")
	case !utf8.ValidString(g):
		return errors.New("group name is not valid UTF-8")
	case utf8.RuneCountInString(g) > maxGroupNameLen:
		return fmt.Errorf("group name is %d characters long, the limit is %d", utf8.RuneCountInString(g), maxGroupNameLen)
	case strings.TrimSpace(g) == "":
		return errors.New("group name is only whitespace")
	}
	return nil
}

// ValidateUserID reports whether id is a valid user id (non-empty).
func ValidateUserID(id string) error {
	if id == "" {
		return errors.New("user id is empty")
	}
	return nil
}

// validateConnectionID reports whether id is a valid connection id (non-empty).
func validateConnectionID(id string) error {
	if id == "" {
		return errors.New("connection id is empty")
	}
	return nil
}
