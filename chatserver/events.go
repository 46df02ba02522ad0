// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chathub/chathub/webpubsub"
)

// EventMessage is the user event name the UI sends chat messages with.
const EventMessage = "message"

// SystemMessage is broadcast when someone joins or leaves:
// {"type":"system","message":"alice joined","time":"..."}.
type SystemMessage struct {
	// Type is always "system".
	Type string `json:"type"`
	// Message is the notice text.
	Message string `json:"message"`
	// Time is when the server saw the event (RFC 3339, UTC, milliseconds).
	Time string `json:"time,omitempty"`
}

// ChatMessage is broadcast for each accepted chat message:
// {"from":"alice","message":"hi","time":"...","connectionId":"..."}.
type ChatMessage struct {
	// From is the sender's user id.
	From string `json:"from"`
	// Message is the text as sent.
	Message string `json:"message"`
	// Time is when the server accepted the message (RFC 3339, UTC, milliseconds).
	Time string `json:"time,omitempty"`
	// ConnectionID is the sender's connection. A page learns its own from
	// the service's "connected" frame, so it marks as its own only the
	// messages it sent, not those of everyone signed in with the same name.
	ConnectionID string `json:"connectionId,omitempty"`
}

// Refusal is the reply to the sender of a message that was not broadcast:
// {"type":"error","code":"messageTooLong","message":"..."}.
type Refusal struct {
	// Type is always "error".
	Type string `json:"type"`
	// Code is a stable reason: emptyMessage, messageTooLong, notText,
	// rateLimited, unavailable.
	Code string `json:"code"`
	// Message is the sentence the UI shows.
	Message string `json:"message"`
	// Time is when the server refused the message.
	Time string `json:"time,omitempty"`
}

// chat reacts to the events of one service (one connection string).
type chat struct {
	srv    *Server
	client *webpubsub.Client
}

func (c *chat) stamp() string { return c.srv.now().UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func (c *chat) onConnected(ctx context.Context, req *webpubsub.ConnectedRequest) {
	c.srv.metrics.events.WithLabelValues("connected").Inc()
	user := displayName(req.Context.UserID)
	c.srv.log.Info("User joined", "hub", req.Context.Hub, "user", user, "conn", req.Context.ConnectionID)
	_ = c.broadcast(ctx, "system", SystemMessage{Type: "system", Message: user + " joined", Time: c.stamp()}, user)
}

func (c *chat) onDisconnected(ctx context.Context, req *webpubsub.DisconnectedRequest) {
	c.srv.metrics.events.WithLabelValues("disconnected").Inc()
	user := displayName(req.Context.UserID)
	c.srv.log.Info("User left", "hub", req.Context.Hub, "user", user, "conn", req.Context.ConnectionID)
	_ = c.broadcast(ctx, "system", SystemMessage{Type: "system", Message: user + " left", Time: c.stamp()}, user)
}

func (c *chat) onUserEvent(ctx context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
	name := req.Context.EventName
	if name != EventMessage {
		c.srv.metrics.events.WithLabelValues("other").Inc()
		c.srv.log.Debug("Ignored a user event", "hub", req.Context.Hub, "user", req.Context.UserID, "event", name)
		return nil, nil
	}
	c.srv.metrics.events.WithLabelValues(EventMessage).Inc()
	user := displayName(req.Context.UserID)
	text, code, why := messageText(req)
	if code == "" && !c.srv.limiter.allow(user, c.srv.now()) {
		code, why = "rateLimited", fmt.Sprintf("Message not sent: you are sending too fast (the limit is %s messages per second, %d at once); wait a moment.",
			strconv.FormatFloat(c.srv.cfg.UserMessageRate, 'f', -1, 64), c.srv.cfg.UserMessageBurst)
	}
	if code != "" {
		c.srv.metrics.refused.WithLabelValues(code).Inc()
		c.srv.log.Info("Refused a message", "hub", req.Context.Hub, "user", user, "reason", code)
		return c.refuse(code, why)
	}
	if err := c.broadcast(ctx, "chat", ChatMessage{From: user, Message: text, Time: c.stamp(), ConnectionID: req.Context.ConnectionID}, user); err != nil {
		return c.refuse("unavailable", "Message not sent: the chat service is unavailable, please try again.")
	}
	return nil, nil
}

// messageText extracts the chat text from a message event, or a refusal
// code and sentence.
func messageText(req *webpubsub.UserEventRequest) (text, code, why string) {
	switch mediaType(req.ContentType) {
	case webpubsub.ContentTypeText:
		text = string(req.Data)
	case webpubsub.ContentTypeJSON:
		// A JSON string is text too (dataType "json" with a string value).
		if err := json.Unmarshal(req.Data, &text); err != nil {
			return "", "notText", "Message not sent: only text messages are supported."
		}
	default:
		return "", "notText", "Message not sent: only text messages are supported."
	}
	if !utf8.ValidString(text) {
		return "", "notText", "Message not sent: it is not valid UTF-8 text."
	}
	if strings.TrimSpace(text) == "" {
		return "", "emptyMessage", "Message not sent: it is empty."
	}
	if n := utf8.RuneCountInString(text); n > MaxMessageChars {
		return "", "messageTooLong", fmt.Sprintf(
			"Message not sent: it is %s characters long and the limit is %s.", thousands(n), thousands(MaxMessageChars))
	}
	return text, "", ""
}

// refuse builds the JSON reply the service delivers to the sender only.
func (c *chat) refuse(code, why string) (*webpubsub.UserEventResponse, error) {
	b, err := json.Marshal(Refusal{Type: "error", Code: code, Message: why, Time: c.stamp()})
	if err != nil {
		return nil, err
	}
	return &webpubsub.UserEventResponse{Data: b, ContentType: webpubsub.ContentTypeJSON}, nil
}

// broadcast sends v as JSON to every connection of the hub.
func (c *chat) broadcast(ctx context.Context, kind string, v any, user string) error {
	content, err := webpubsub.JSONContent(v)
	if err == nil {
		start := time.Now()
		err = c.client.SendToAll(ctx, content, nil)
		c.srv.metrics.broadcastTime.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		c.srv.metrics.failures.WithLabelValues("broadcast").Inc()
		c.srv.log.Error("Broadcast failed", "hub", c.client.Hub(), "user", user, "kind", kind, "error", err)
		return err
	}
	c.srv.metrics.broadcasts.WithLabelValues(kind).Inc()
	return nil
}

// displayName is the name shown for a user id; connections without one
// (not issued by /negotiate) show as "anonymous".
func displayName(userID string) string {
	if userID == "" {
		return "anonymous"
	}
	return userID
}

// mediaType returns the media type of a Content-Type value, lower case,
// without parameters.
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// thousands formats n with comma thousands separators (4000 → "4,000").
func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
