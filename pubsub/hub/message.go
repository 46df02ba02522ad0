// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package hub

import "github.com/chathub/chathub/pubsub/protocol"

// Message is one data message on its way to one or many connections. It is encoded once per
// wire format: the raw payload for raw clients and one JSON encoding for JSON clients
// (reliable clients get the JSON encoding with their own sequence id spliced in). Every
// socket writes these same bytes behind its own frame header.
type Message struct {
	// ContentType is webpubsub.ContentTypeText, ContentTypeJSON or ContentTypeBinary.
	ContentType string
	// Data is the payload as raw clients receive it.
	Data []byte
	// JSON is the json.webpubsub.azure.v1 encoding without a sequence id.
	JSON []byte
}

// NewMessage encodes a data message. from is protocol.FromServer or FromGroup; group and
// fromUserID are empty when they do not apply. JSON data must be valid JSON.
func NewMessage(from, group, fromUserID, contentType string, data []byte) *Message {
	return &Message{
		ContentType: contentType,
		Data:        data,
		JSON:        protocol.Message(from, group, fromUserID, contentType, data),
	}
}

// Binary reports whether raw clients receive the message as a binary frame.
func (m *Message) Binary() bool { return !protocol.IsText(m.ContentType) }

// size is what one queued copy of the message counts against a connection's limits.
func (m *Message) size() int { return max(len(m.Data), len(m.JSON)) }

// Frame is one entry of a connection's send queue.
type Frame struct {
	msg    *Message
	data   []byte
	binary bool
	seq    uint64
	ping   bool
}

// IsPing reports whether the transport should write a keep-alive ping control frame.
func (f Frame) IsPing() bool { return f.ping }

// Payload returns the bytes to write to a connection of the given kind and whether they
// form a binary frame. Broadcast payloads are shared, not copied: callers must not modify them.
func (f Frame) Payload(kind protocol.Kind) (data []byte, binary bool) {
	if f.msg == nil {
		return f.data, f.binary
	}
	switch kind {
	case protocol.KindRaw:
		return f.msg.Data, f.msg.Binary()
	case protocol.KindJSONReliable:
		if f.seq != 0 {
			return protocol.WithSequenceID(f.msg.JSON, f.seq), false
		}
	}
	return f.msg.JSON, false
}

func (f Frame) size() int {
	if f.msg != nil {
		return f.msg.size()
	}
	return len(f.data)
}
