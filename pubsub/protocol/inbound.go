// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/chathub/chathub/webpubsub"
)

// Client message types of the JSON subprotocols (protocol doc §4.2).
const (
	TypeJoinGroup   = "joinGroup"
	TypeLeaveGroup  = "leaveGroup"
	TypeSendToGroup = "sendToGroup"
	TypeEvent       = "event"
	TypeSequenceAck = "sequenceAck"
	TypePing        = "ping"
)

// Data types of JSON messages.
const (
	DataTypeJSON   = "json"
	DataTypeText   = "text"
	DataTypeBinary = "binary"
)

// Inbound is one decoded client message of a JSON subprotocol.
type Inbound struct {
	// Type is the message type (TypeJoinGroup, ...).
	Type string
	// Group is the target group of joinGroup, leaveGroup and sendToGroup.
	Group string
	// Event is the user event name of an event message.
	Event string
	// AckID is the client's ack id; HasAckID reports whether one was sent.
	AckID    uint64
	HasAckID bool
	// NoEcho asks sendToGroup not to deliver the message back to its sender.
	NoEcho bool
	// ContentType and Data are the decoded payload of sendToGroup and event
	// (webpubsub.ContentTypeText, ContentTypeJSON or ContentTypeBinary).
	ContentType string
	Data        []byte
	// SequenceID is the acknowledged sequence id of a sequenceAck.
	SequenceID uint64
}

// wireInbound is the JSON shape of a client message.
type wireInbound struct {
	Type       string          `json:"type"`
	Group      *string         `json:"group"`
	Event      *string         `json:"event"`
	AckID      *uint64         `json:"ackId"`
	NoEcho     bool            `json:"noEcho"`
	DataType   string          `json:"dataType"`
	Data       json.RawMessage `json:"data"`
	SequenceID *uint64         `json:"sequenceId"`
}

// ErrUnknownType reports a message type the service does not handle. The message may still
// carry an ack id (see DecodeError.AckID).
var ErrUnknownType = errors.New("unsupported message type")

// DecodeError is a client message that could not be used. AckID is set when the message was
// valid JSON carrying an ackId, so the service can answer with a failed ack.
type DecodeError struct {
	Err      error
	AckID    uint64
	HasAckID bool
}

// Error returns the message of the underlying error.
func (e *DecodeError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

var eventNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.\-]{0,127}$`)

// DecodeInbound decodes and validates one text frame of a JSON subprotocol.
func DecodeInbound(frame []byte) (*Inbound, error) {
	var w wireInbound
	// Unmarshal takes a valid frame without the Decoder's buffer (an allocation per frame);
	// a frame it refuses is decoded again with the Decoder, whose errors tell a malformed
	// object from data after a valid one.
	if err := json.Unmarshal(frame, &w); err != nil {
		w = wireInbound{}
		dec := json.NewDecoder(bytes.NewReader(frame))
		dec.UseNumber()
		if err := dec.Decode(&w); err != nil {
			return nil, &DecodeError{Err: fmt.Errorf("message is not a valid JSON object: %s", jsonErr(err))}
		}
		if dec.More() {
			return nil, &DecodeError{Err: errors.New("message has data after the JSON object")}
		}
		return nil, &DecodeError{Err: fmt.Errorf("message is not a valid JSON object: %s", jsonErr(err))}
	}
	in := &Inbound{Type: w.Type, NoEcho: w.NoEcho}
	if w.AckID != nil {
		in.AckID, in.HasAckID = *w.AckID, true
	}
	fail := func(err error) (*Inbound, error) {
		return nil, &DecodeError{Err: err, AckID: in.AckID, HasAckID: in.HasAckID}
	}
	switch w.Type {
	case TypeJoinGroup, TypeLeaveGroup, TypeSendToGroup:
		if w.Group == nil {
			return fail(fmt.Errorf("%s needs a group", w.Type))
		}
		if err := webpubsub.ValidateGroupName(*w.Group); err != nil {
			return fail(err)
		}
		in.Group = *w.Group
	case TypeEvent:
		if w.Event == nil || !eventNamePattern.MatchString(*w.Event) {
			return fail(errors.New("event needs a name: a letter then up to 127 letters, digits, '_', '.' or '-'"))
		}
		in.Event = *w.Event
	case TypeSequenceAck:
		if w.SequenceID == nil {
			return fail(errors.New("sequenceAck needs a sequenceId"))
		}
		in.SequenceID = *w.SequenceID
		return in, nil
	case TypePing:
		return in, nil
	case "":
		return fail(errors.New("message has no type"))
	default:
		return fail(fmt.Errorf("%w %q", ErrUnknownType, clip(w.Type)))
	}
	if w.Type == TypeSendToGroup || w.Type == TypeEvent {
		ct, data, err := DecodeData(w.DataType, w.Data)
		if err != nil {
			return fail(err)
		}
		in.ContentType, in.Data = ct, data
	}
	return in, nil
}

// DecodeData turns the data field of a message into a content type and payload bytes. An
// absent data field is an empty payload of the given type.
func DecodeData(dataType string, raw json.RawMessage) (contentType string, data []byte, err error) {
	switch dataType {
	case "", DataTypeJSON:
		if len(raw) == 0 {
			return "", nil, errors.New("json data is missing")
		}
		return webpubsub.ContentTypeJSON, []byte(raw), nil
	case DataTypeText:
		var s string
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", nil, errors.New("text data must be a JSON string")
			}
		}
		return webpubsub.ContentTypeText, []byte(s), nil
	case DataTypeBinary:
		var s string
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", nil, errors.New("binary data must be a base64 JSON string")
			}
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", nil, errors.New("binary data is not valid base64")
		}
		return webpubsub.ContentTypeBinary, b, nil
	}
	return "", nil, fmt.Errorf("unsupported dataType %q (json, text or binary)", clip(dataType))
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return "malformed"
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
