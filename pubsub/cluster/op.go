// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Kinds of Op.
const (
	// KindSend delivers Data to the connections Target and Key select (with Filter and
	// Excluded), as a message From (protocol.FromServer or FromGroup) with Group and FromUser.
	KindSend = "send"
	// KindJoin adds the selected connections to Groups; KindLeave removes them; KindLeaveAll
	// removes them from every group.
	KindJoin     = "join"
	KindLeave    = "leave"
	KindLeaveAll = "leaveAll"
	// KindClose closes the selected connections with Reason.
	KindClose = "close"
	// KindExists asks whether a replica holds the connection, user or group Target and Key
	// name (a request).
	KindExists = "exists"
	// KindMembers asks every replica for its connections in group Key (a request).
	KindMembers = "members"
	// KindPermission grants (Grant), revokes (Revoke) or checks Perm on group Group for
	// connection Key (a request answered by the replica holding it).
	KindPermission = "permission"
	// KindSettings carries the hub settings set (Data, JSON) or deleted (no Data) through the
	// ARM-shaped API on one replica (a request: each replica answers once it has applied them).
	KindSettings = "settings"
	// KindSync carries the hub settings a replica holds from the ARM-shaped API (Data, a JSON
	// array), sent when another replica joins, so that a new replica starts with them.
	KindSync = "sync"
)

// Targets of Op: which connections of the hub an operation selects.
const (
	TargetAll   = "all"
	TargetUser  = "user"
	TargetGroup = "group"
	TargetConn  = "conn"
)

// Permission actions of a KindPermission Op.
const (
	Grant  = "grant"
	Revoke = "revoke"
	Check  = "check"
)

// Op is one operation on the hub state of every replica. The replica that takes the request
// applies it to its own connections and publishes it once; every other replica applies it
// to its connections.
type Op struct {
	Kind   string `json:"k"`
	Hub    string `json:"h"`
	Target string `json:"t,omitempty"`
	// Key is the user id, group or connection id Target names.
	Key string `json:"key,omitempty"`
	// Groups are the groups of KindJoin and KindLeave.
	Groups []string `json:"g,omitempty"`
	// Filter is an OData filter (pubsub/filter) the connections must match; "" matches all.
	Filter   string   `json:"f,omitempty"`
	Excluded []string `json:"x,omitempty"`
	// From, Group and FromUser describe the message of KindSend; ContentType is its type.
	From        string `json:"from,omitempty"`
	Group       string `json:"grp,omitempty"`
	FromUser    string `json:"fu,omitempty"`
	ContentType string `json:"ct,omitempty"`
	// Reason is the close reason of KindClose.
	Reason string `json:"r,omitempty"`
	// Perm and Action describe a KindPermission request.
	Perm   string `json:"p,omitempty"`
	Action string `json:"a,omitempty"`
	// Replica is the id of the publishing replica.
	Replica string `json:"rep,omitempty"`
	// SentNanos is when the op was published (Unix nanoseconds): the receivers' lag metric.
	SentNanos int64 `json:"ts,omitempty"`
	// Data is the payload (the message of KindSend, the settings of KindSettings). It travels
	// as the raw tail of the NATS message, not in the JSON head.
	Data []byte `json:"-"`
}

// Reply is a replica's answer to a request.
type Reply struct {
	// Replica is the id of the answering replica.
	Replica string `json:"rep"`
	// Found reports that the replica holds the connection, user or group asked about.
	Found bool `json:"found,omitempty"`
	// Error is a failure of the operation on the replica holding the connection ("" for
	// success), for the REST answer.
	Error string `json:"err,omitempty"`
	// Members are the replica's connections of a KindMembers request.
	Members []Member `json:"m,omitempty"`
}

// Member is one connection of a group.
type Member struct {
	ConnectionID string `json:"c"`
	UserID       string `json:"u,omitempty"`
}

// encode returns the wire form of op: its JSON head, a newline, then Data.
func (op *Op) encode() ([]byte, error) {
	head, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(head)+1+len(op.Data))
	b = append(b, head...)
	b = append(b, '\n')
	return append(b, op.Data...), nil
}

// decode parses the wire form of an Op. Data aliases b.
func decode(b []byte) (*Op, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, errors.New("cluster message without a head")
	}
	op := &Op{}
	if err := json.Unmarshal(b[:i], op); err != nil {
		return nil, err
	}
	if op.Kind == "" || op.Replica == "" {
		return nil, errors.New("cluster message without kind or replica")
	}
	if i+1 < len(b) {
		op.Data = b[i+1:]
	}
	return op, nil
}
