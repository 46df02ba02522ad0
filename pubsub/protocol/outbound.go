// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package protocol

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/chathub/chathub/webpubsub"
)

// Ack error names (protocol doc §4.3).
const (
	AckForbidden     = "Forbidden"
	AckInternalError = "InternalServerError"
	AckDuplicate     = "Duplicate"
	AckBadRequest    = "BadRequest"
	AckNotFound      = "NotFound"
)

// Message origins of data messages.
const (
	FromServer = "server"
	FromGroup  = "group"
)

// Connected encodes the connected system message; reconnectionToken is set for reliable clients.
func Connected(userID, connectionID, reconnectionToken string) []byte {
	b := []byte(`{"type":"system","event":"connected"`)
	if userID != "" {
		b = appendField(b, "userId", userID)
	}
	b = appendField(b, "connectionId", connectionID)
	if reconnectionToken != "" {
		b = appendField(b, "reconnectionToken", reconnectionToken)
	}
	return append(b, '}')
}

// Disconnected encodes the disconnected system message.
func Disconnected(message string) []byte {
	b := []byte(`{"type":"system","event":"disconnected"`)
	b = appendField(b, "message", message)
	return append(b, '}')
}

// Ack encodes an ack; errName "" means success.
func Ack(ackID uint64, errName, errMessage string) []byte {
	b := []byte(`{"type":"ack","ackId":`)
	b = strconv.AppendUint(b, ackID, 10)
	if errName == "" {
		return append(b, `,"success":true}`...)
	}
	b = append(b, `,"success":false,"error":{"name":`...)
	b = appendString(b, errName)
	b = append(b, `,"message":`...)
	b = appendString(b, errMessage)
	return append(b, "}}"...)
}

// Pong encodes the answer to a ping.
func Pong() []byte { return []byte(`{"type":"pong"}`) }

// Message encodes a data message without a sequence id. from is FromServer or FromGroup;
// group and fromUserID are omitted when empty. contentType selects the dataType; JSON data must
// already be valid JSON.
func Message(from, group, fromUserID, contentType string, data []byte) []byte {
	b := make([]byte, 0, 80+len(group)+len(fromUserID)+len(data)*4/3)
	b = append(b, `{"type":"message","from":`...)
	b = appendString(b, from)
	if group != "" {
		b = appendField(b, "group", group)
	}
	if fromUserID != "" {
		b = appendField(b, "fromUserId", fromUserID)
	}
	switch contentType {
	case webpubsub.ContentTypeJSON:
		b = append(b, `,"dataType":"json","data":`...)
		b = append(b, data...)
	case webpubsub.ContentTypeText:
		b = append(b, `,"dataType":"text","data":`...)
		b = appendString(b, string(data))
	default:
		b = append(b, `,"dataType":"binary","data":"`...)
		b = base64.StdEncoding.AppendEncode(b, data)
		b = append(b, '"')
	}
	return append(b, '}')
}

// WithSequenceID returns a copy of an encoded JSON object with "sequenceId" as its first
// field, so one broadcast encoding serves every reliable connection.
func WithSequenceID(encoded []byte, seq uint64) []byte {
	b := make([]byte, 0, len(encoded)+32)
	b = append(b, `{"sequenceId":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ',')
	return append(b, encoded[1:]...)
}

// IsText reports whether a payload of this content type goes to raw clients as a text frame.
func IsText(contentType string) bool {
	return contentType == webpubsub.ContentTypeText || contentType == webpubsub.ContentTypeJSON
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

func appendString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // cannot happen for a string; keep the output valid anyway
		return append(b, `""`...)
	}
	return append(b, q...)
}
