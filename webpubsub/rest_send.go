// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
)

// maxMessageTTLSeconds is the service's limit for messageTtlSeconds.
const maxMessageTTLSeconds = 300

// Content is a message body with its content type: ContentTypeText, ContentTypeJSON or
// ContentTypeBinary.
type Content struct {
	// ContentType is the media type sent as Content-Type.
	ContentType string
	// Data is the message body.
	Data []byte
}

// TextContent returns s as a text/plain message.
func TextContent(s string) Content { return Content{ContentType: ContentTypeText, Data: []byte(s)} }

// JSONContent returns v marshalled as an application/json message.
func JSONContent(v any) (Content, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Content{}, fmt.Errorf("encoding JSON content: %w", err)
	}
	return Content{ContentType: ContentTypeJSON, Data: b}, nil
}

// BinaryContent returns b as an application/octet-stream message.
func BinaryContent(b []byte) Content { return Content{ContentType: ContentTypeBinary, Data: b} }

// validate checks the content type is one the service accepts.
func (ct Content) validate() error {
	mt, _, err := mime.ParseMediaType(ct.ContentType)
	if err != nil {
		return fmt.Errorf("content type %q is invalid", truncate(ct.ContentType, 64))
	}
	switch mt {
	case ContentTypeText, ContentTypeJSON, ContentTypeBinary:
		return nil
	}
	return fmt.Errorf("content type %q is not text/plain, application/json or application/octet-stream", truncate(ct.ContentType, 64))
}

// SendOptions are the optional parameters of the send operations.
type SendOptions struct {
	// Excluded lists connection ids that do not receive the message (SendToAll, SendToGroup).
	Excluded []string
	// Filter is an OData filter over userId, connectionId and groups (not SendToConnection).
	Filter string
	// MessageTTLSeconds drops the message if not delivered in time: 0 (never) to 300.
	MessageTTLSeconds int
}

// sendQuery turns opts into query values, refusing what the operation does not accept.
func sendQuery(op string, opts *SendOptions, allowExcluded, allowFilter bool) (url.Values, error) {
	q := url.Values{}
	if opts == nil {
		return q, nil
	}
	if len(opts.Excluded) > 0 {
		if !allowExcluded {
			return nil, fmt.Errorf("webpubsub: %s does not support excluded connections", op)
		}
		for _, id := range opts.Excluded {
			if err := validateConnectionID(id); err != nil {
				return nil, fmt.Errorf("webpubsub: %s: excluded %w", op, err)
			}
		}
		q["excluded"] = append([]string(nil), opts.Excluded...)
	}
	if opts.Filter != "" {
		if !allowFilter {
			return nil, fmt.Errorf("webpubsub: %s does not support a filter", op)
		}
		q.Set("filter", opts.Filter)
	}
	if opts.MessageTTLSeconds < 0 || opts.MessageTTLSeconds > maxMessageTTLSeconds {
		return nil, fmt.Errorf("webpubsub: %s: messageTtlSeconds %d is not in 0..%d", op, opts.MessageTTLSeconds, maxMessageTTLSeconds)
	}
	if opts.MessageTTLSeconds > 0 {
		q.Set("messageTtlSeconds", strconv.Itoa(opts.MessageTTLSeconds))
	}
	return q, nil
}

func (c *Client) sendMessage(ctx context.Context, op string, segments []string, content Content, opts *SendOptions, allowExcluded, allowFilter bool) error {
	if err := content.validate(); err != nil {
		return fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	q, err := sendQuery(op, opts, allowExcluded, allowFilter)
	if err != nil {
		return err
	}
	data := content.Data
	if data == nil {
		data = []byte{}
	}
	_, _, err = c.do(ctx, apiRequest{
		method: http.MethodPost, segments: segments, query: q,
		contentType: content.ContentType, body: data, ok: []int{http.StatusAccepted},
	})
	return err
}

// SendToAll broadcasts content to every connection of the hub.
func (c *Client) SendToAll(ctx context.Context, content Content, opts *SendOptions) error {
	return c.sendMessage(ctx, "SendToAll", c.hubSegments(":send"), content, opts, true, true)
}

// SendToUser sends content to every connection of userID.
func (c *Client) SendToUser(ctx context.Context, userID string, content Content, opts *SendOptions) error {
	if err := ValidateUserID(userID); err != nil {
		return fmt.Errorf("webpubsub: SendToUser: %w", err)
	}
	return c.sendMessage(ctx, "SendToUser", c.hubSegments("users", userID, ":send"), content, opts, false, true)
}

// SendToConnection sends content to one connection.
func (c *Client) SendToConnection(ctx context.Context, connectionID string, content Content, opts *SendOptions) error {
	if err := validateConnectionID(connectionID); err != nil {
		return fmt.Errorf("webpubsub: SendToConnection: %w", err)
	}
	return c.sendMessage(ctx, "SendToConnection", c.hubSegments("connections", connectionID, ":send"), content, opts, false, false)
}

// SendToGroup sends content to every connection in group.
func (c *Client) SendToGroup(ctx context.Context, group string, content Content, opts *SendOptions) error {
	if err := ValidateGroupName(group); err != nil {
		return fmt.Errorf("webpubsub: SendToGroup: %w", err)
	}
	return c.sendMessage(ctx, "SendToGroup", c.hubSegments("groups", group, ":send"), content, opts, true, true)
}
