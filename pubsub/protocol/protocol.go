// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package protocol holds the wire format of the PubSub service's client WebSockets:
// the subprotocol kinds, the JSON messages clients send and receive (protocol doc §4) and the
// close codes. It knows nothing of sockets, hubs or upstream handlers.
package protocol

import "github.com/chathub/chathub/webpubsub"

// Kind is the wire format a connection speaks.
type Kind uint8

// The wire formats.
const (
	// KindRaw is a "simple" WebSocket client: frames are message payloads.
	KindRaw Kind = iota
	// KindJSON speaks json.webpubsub.azure.v1.
	KindJSON
	// KindJSONReliable speaks json.reliable.webpubsub.azure.v1 (sequence ids, recovery).
	KindJSONReliable
	// NumKinds is the number of wire formats.
	NumKinds
)

// KindOf returns the wire format of a negotiated subprotocol; unknown or empty ones are raw.
func KindOf(subprotocol string) Kind {
	switch subprotocol {
	case webpubsub.SubprotocolJSON:
		return KindJSON
	case webpubsub.SubprotocolJSONReliable:
		return KindJSONReliable
	}
	return KindRaw
}

// String returns the subprotocol name of the kind ("" for raw).
func (k Kind) String() string {
	switch k {
	case KindJSON:
		return webpubsub.SubprotocolJSON
	case KindJSONReliable:
		return webpubsub.SubprotocolJSONReliable
	}
	return ""
}

// Supported reports whether the service understands the subprotocol.
func Supported(subprotocol string) bool { return KindOf(subprotocol) != KindRaw }

// WebSocket close codes the service uses (RFC 6455 §7.4.1).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	CloseProtocolError = 1002
	CloseNoStatus      = 1005
	ClosePolicy        = 1008
	CloseTooBig        = 1009
	CloseInternal      = 1011
)

// Limits of the protocol.
const (
	// MaxFrameBytes is the largest client frame the service reads (1 MiB).
	MaxFrameBytes = 1 << 20
)

// Disconnect reasons, as the service reports them in logs, metrics and the disconnected event.
const (
	ReasonNormal          = "Normal"
	ReasonClosedByServer  = "ClosedByAppServer"
	ReasonServiceReload   = "ServiceReload"
	ReasonPingTimeout     = "PingTimeout"
	ReasonSlowClient      = "SlowClient"
	ReasonRecoveryExpired = "RecoveryExpired"
	ReasonBufferFull      = "ReliableBufferFull"
	ReasonTooBig          = "MessageTooBig"
	ReasonBadMessage      = "InvalidMessage"
	ReasonUpstreamFailure = "UpstreamFailure"
	ReasonNoEventHandler  = "NoEventHandler"
	// ReasonRateLimited closes a connection that sent more messages than its rate limit.
	ReasonRateLimited = "RateLimited"
)
