// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"strings"
	"time"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/pubsub/upstream"
	"github.com/chathub/chathub/webpubsub"
)

// socketHandler is the service's side of pubsub/transport: client frames go to handleFrame
// and written frames to the messages-sent metric.
type socketHandler struct{ s *Server }

// Frame implements transport.Handler.
func (h socketHandler) Frame(c *hub.Conn, binary bool, data []byte) { h.s.handleFrame(c, binary, data) }

// FramesSent implements transport.Handler.
func (h socketHandler) FramesSent(n int) { h.s.metrics.messagesOut.Add(float64(n)) }

// handleFrame acts on one client frame. It runs on the connection's reader (one goroutine at a
// time per connection), so the frames of one connection are handled, and reach the event
// handler, in order.
func (s *Server) handleFrame(c *hub.Conn, binary bool, data []byte) {
	if c.Closed() {
		// The service has closed the connection while its socket was still being read:
		// nothing more of it reaches a group or the event handler.
		return
	}
	if c.Kind() == protocol.KindRaw {
		s.metrics.messagesIn.WithLabelValues("raw").Inc()
		s.rawEvent(c, binary, data)
		return
	}
	if binary {
		s.metrics.messagesIn.WithLabelValues("invalid").Inc()
		s.log.Debug("Ignored a binary frame from a JSON client", "hub", c.Hub().Name(), "conn", c.ID())
		return
	}
	in, err := protocol.DecodeInbound(data)
	if err != nil {
		s.metrics.messagesIn.WithLabelValues("invalid").Inc()
		var de *protocol.DecodeError
		if errors.As(err, &de) && de.HasAckID {
			_ = c.SendFrame(protocol.Ack(de.AckID, protocol.AckBadRequest, de.Error()), false)
			return
		}
		s.log.Debug("Ignored an invalid client message", "hub", c.Hub().Name(), "conn", c.ID(), "error", err)
		return
	}
	s.metrics.messagesIn.WithLabelValues(in.Type).Inc()
	switch in.Type {
	case protocol.TypePing:
		_ = c.SendFrame(protocol.Pong(), false)
		return
	case protocol.TypeSequenceAck:
		c.AckSequence(in.SequenceID)
		return
	}
	if in.HasAckID && c.SeenAckID(in.AckID) {
		_ = c.SendFrame(protocol.Ack(in.AckID, protocol.AckDuplicate, "the ackId has been used already"), false)
		return
	}
	errName, errMsg := s.handleMessage(c, in)
	if in.HasAckID {
		_ = c.SendFrame(protocol.Ack(in.AckID, errName, errMsg), false)
	}
}

// handleMessage carries out a joinGroup, leaveGroup, sendToGroup or event message and
// returns the ack error ("" for success).
func (s *Server) handleMessage(c *hub.Conn, in *protocol.Inbound) (errName, errMsg string) {
	switch in.Type {
	case protocol.TypeJoinGroup, protocol.TypeLeaveGroup:
		if !c.Allowed(hub.PermJoinLeaveGroup, in.Group) {
			return protocol.AckForbidden, "the connection has no permission to join or leave group " + quote(in.Group)
		}
		if in.Type == protocol.TypeJoinGroup {
			if err := c.Join(in.Group); errors.Is(err, hub.ErrTooManyGroups) {
				return protocol.AckBadRequest, err.Error()
			}
		} else {
			c.Leave(in.Group)
		}
	case protocol.TypeSendToGroup:
		if !c.Allowed(hub.PermSendToGroup, in.Group) {
			return protocol.AckForbidden, "the connection has no permission to send to group " + quote(in.Group)
		}
		if s.cluster != nil {
			if err := s.groupSend(c, in.Group, in.ContentType, in.Data, in.NoEcho); err != nil {
				return protocol.AckInternalError, "the message could not reach the replicas of the service: " + err.Error()
			}
			break
		}
		m := hub.NewMessage(protocol.FromGroup, in.Group, c.UserID(), in.ContentType, in.Data)
		var skip func(*hub.Conn) bool
		if in.NoEcho {
			skip = func(o *hub.Conn) bool { return o == c }
		}
		hub.Deliver(c.Hub().GroupMembers(in.Group), m, skip)
	case protocol.TypeEvent:
		return s.userEvent(c, in.Event, in.ContentType, in.Data)
	}
	return "", ""
}

// userEvent sends a user event upstream and relays the handler's reply to the client
// before the caller acks.
func (s *Server) userEvent(c *hub.Conn, event, contentType string, data []byte) (errName, errMsg string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	info := connInfo(c)
	var p *upstream.PendingUserEvent
	var err error
	// Queued only while the connection is open, so that no event of a connection reaches the
	// handler after its disconnected event (which Close queues).
	if !c.WhileOpen(func() { p, err = s.disp.QueueUserEvent(ctx, info, event, contentType, data) }) {
		return protocol.AckInternalError, "the connection is closed"
	}
	var res *upstream.UserEventResult
	if err == nil {
		res, err = p.Wait()
	}
	switch {
	case errors.Is(err, upstream.ErrNoHandler):
		// As on Azure (protocol doc §3.4, §4.5): a user event that no handler takes drops the
		// connection, so a missing userEventPattern shows up here and not first in production.
		s.log.Warn("No event handler matches a user event; closing the connection",
			"hub", c.Hub().Name(), "conn", c.ID(), "event", event)
		c.Close(protocol.ClosePolicy, protocol.ReasonNoEventHandler)
		return protocol.AckNotFound, "no event handler matches the event"
	case err != nil:
		s.log.Warn("User event failed", "hub", c.Hub().Name(), "conn", c.ID(), "event", event,
			"elapsed", time.Since(start).Round(time.Millisecond), "error", err)
		return protocol.AckInternalError, "the event handler failed to process the event"
	}
	if res.State != nil {
		c.SetState(*res.State)
	}
	if res.Data != nil && (len(res.Data) > 0 || c.Kind() != protocol.KindRaw) {
		ct := replyContentType(res.ContentType, res.Data)
		_ = c.Send(hub.NewMessage(protocol.FromServer, "", "", ct, res.Data))
	}
	return "", ""
}

// rawEvent turns a raw client's frame into the user event "message"; a failed event closes
// the connection with 1011 as the service does.
func (s *Server) rawEvent(c *hub.Conn, binary bool, data []byte) {
	ct := webpubsub.ContentTypeText
	if binary {
		ct = webpubsub.ContentTypeBinary
	}
	if errName, _ := s.userEvent(c, "message", ct, data); errName != "" {
		c.Close(protocol.CloseInternal, protocol.ReasonUpstreamFailure)
	}
}

// replyContentType maps a handler's Content-Type to one of the three the protocol knows.
func replyContentType(ct string, data []byte) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return webpubsub.ContentTypeBinary
	}
	switch {
	case mt == webpubsub.ContentTypeJSON || strings.HasSuffix(mt, "+json"):
		if json.Valid(data) {
			return webpubsub.ContentTypeJSON
		}
		return webpubsub.ContentTypeText
	case strings.HasPrefix(mt, "text/"):
		return webpubsub.ContentTypeText
	}
	return webpubsub.ContentTypeBinary
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
