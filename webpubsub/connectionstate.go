// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ConnectionContext describes the connection an upstream event belongs to. It is built from
// the CloudEvents headers of the request.
type ConnectionContext struct {
	// Hub is the hub of the connection (ce-hub).
	Hub string
	// ConnectionID is the id of the connection (ce-connectionId).
	ConnectionID string
	// UserID is the user of the connection (ce-userId), empty when anonymous.
	UserID string
	// EventName is the event name (ce-eventName): connect, connected, disconnected or a user
	// event name.
	EventName string
	// EventType is the CloudEvents type (ce-type).
	EventType string
	// Subprotocol is the connection's subprotocol (ce-subprotocol), empty when none.
	Subprotocol string
	// Origin is the service host that sent the event (WebHook-Request-Origin).
	Origin string
	// ID is the CloudEvents event id (ce-id).
	ID string
	// Time is the event time (ce-time), zero when the header is absent.
	Time time.Time
	// States holds the connection states decoded from ce-connectionState (base64 of a JSON
	// object); nil when the connection has none. Change it with SetState and ClearStates so
	// that the handler sends the new states back to the service.
	States map[string]json.RawMessage

	// statesChanged is set by SetState and ClearStates.
	statesChanged bool
}

// SetState stores value, encoded as JSON, under key and marks the states changed. The handler
// then returns all states in the ce-connectionState response header of a blocking event
// (connect or user event); the states set while handling connected or disconnected are not
// sent back. Call it on the Context field of the request the callback received, not on a copy.
func (c *ConnectionContext) SetState(key string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("encoding connection state %q: %w", key, err)
	}
	if c.States == nil {
		c.States = make(map[string]json.RawMessage)
	}
	c.States[key] = b
	c.statesChanged = true
	return nil
}

// ClearStates removes every state and marks the states changed, so that the service stores an
// empty state object for the connection.
func (c *ConnectionContext) ClearStates() {
	c.States = make(map[string]json.RawMessage)
	c.statesChanged = true
}

// decodeConnectionState decodes a ce-connectionState header value: base64 (padded or not) of
// a JSON object. An empty value means no states.
func decodeConnectionState(s string) (map[string]json.RawMessage, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("it is not valid base64")
	}
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("it is not the base64 of a JSON object")
	}
	var states map[string]json.RawMessage
	if err := json.Unmarshal(raw, &states); err != nil {
		return nil, errors.New("it is not the base64 of a valid JSON object")
	}
	return states, nil
}

// encodeConnectionState encodes states as the ce-connectionState header value: base64 of the
// JSON object (keys sorted). No states encode as the empty object.
func encodeConnectionState(states map[string]json.RawMessage) (string, error) {
	if states == nil {
		states = map[string]json.RawMessage{}
	}
	for k, v := range states {
		// Checked here so that the error names the key and never quotes the value.
		if !json.Valid(v) {
			return "", fmt.Errorf("connection state %q is not valid JSON", k)
		}
	}
	b, err := json.Marshal(states)
	if err != nil {
		return "", errors.New("encoding connection states failed")
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
