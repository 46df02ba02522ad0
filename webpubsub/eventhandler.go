// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// defaultMaxEventBodyBytes is the body limit when EventHandlerOptions.MaxBodyBytes is 0: a
// 1 MiB message plus room for the connect event's claims, query and headers.
const defaultMaxEventBodyBytes = 1<<20 + 64<<10

// DefaultEventTimeTolerance is how far ce-time may be from the handler's clock, in either
// direction, when EventHandlerOptions.TimeTolerance is 0.
const DefaultEventTimeTolerance = 5 * time.Minute

// EventHandlerOptions configures an EventHandler.
type EventHandlerOptions struct {
	// Hub is the hub whose events the handler accepts (compared case-insensitively); events for
	// other hubs are answered with 400. Required.
	Hub string
	// AccessKeys returns the current access keys. It is called for every event, so keys can be
	// rotated; ce-signature must match one of them. Required.
	AccessKeys func() []string
	// AllowedOrigins lists the service hosts (no scheme or port; both are ignored if present)
	// that abuse protection accepts in WebHook-Request-Origin. "*" allows any host. Required.
	AllowedOrigins []string
	// MaxBodyBytes limits the request body; larger bodies are answered with 400.
	// 0 means 1 MiB + 64 KiB.
	MaxBodyBytes int64
	// TimeTolerance is the replay window: an event whose ce-time is further than this from the
	// handler's clock (in the past or the future), or that has no ce-time, is refused with 401.
	// ce-signature signs only the connection id, so a captured event could otherwise be sent
	// again, with other headers and body, for as long as the connection id is known; this
	// bounds that to the window, it does not stop a replay within it. 0 means
	// DefaultEventTimeTolerance; a negative value turns the check off.
	TimeTolerance time.Duration
	// Now is the clock ce-time is compared with; nil means time.Now.
	Now func() time.Time
	// Logger receives one record per event with the fields hub, conn, user and event; nil
	// discards. Keys, signatures, connection states and message bodies are never logged.
	Logger *slog.Logger
	// OnConnect decides whether a client may connect. A nil response accepts the connection
	// without changes (204); an *EventError with status 401 or 403 rejects it with that status,
	// 400 with 400, anything else with 500. nil OnConnect accepts every connection.
	OnConnect func(ctx context.Context, req *ConnectRequest) (*ConnectResponse, error)
	// OnConnected is told that a connection was established. It cannot fail the request.
	OnConnected func(ctx context.Context, req *ConnectedRequest)
	// OnDisconnected is told that a connection was closed. It cannot fail the request.
	OnDisconnected func(ctx context.Context, req *DisconnectedRequest)
	// OnUserEvent handles a message sent by a client. A response with data is sent back to the
	// client; a nil response or empty data answers 204. An *EventError fails the event with its
	// status; other errors with 500. nil OnUserEvent answers every user event with 204.
	OnUserEvent func(ctx context.Context, req *UserEventRequest) (*UserEventResponse, error)
}

// EventHandler is the http.Handler that receives the CloudEvents a Web PubSub service sends to
// an event handler URL: it answers abuse protection (OPTIONS), verifies signatures and hubs,
// decodes connection states and dispatches the events to the callbacks of its options.
type EventHandler struct {
	opts     EventHandlerOptions
	origins  []string // normalised hosts
	allowAll bool
	maxBody  int64
	skew     time.Duration // < 0: ce-time is not checked
	now      func() time.Time
	log      *slog.Logger
}

// NewEventHandler validates opts and returns the handler.
func NewEventHandler(opts EventHandlerOptions) (*EventHandler, error) {
	if err := ValidateHubName(opts.Hub); err != nil {
		return nil, fmt.Errorf("event handler: %w", err)
	}
	if opts.AccessKeys == nil {
		return nil, errors.New("event handler: AccessKeys is required")
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("event handler: MaxBodyBytes is %d, it must not be negative", opts.MaxBodyBytes)
	}
	h := &EventHandler{opts: opts, maxBody: opts.MaxBodyBytes, skew: opts.TimeTolerance, now: opts.Now, log: opts.Logger}
	if h.maxBody == 0 {
		h.maxBody = defaultMaxEventBodyBytes
	}
	if h.skew == 0 {
		h.skew = DefaultEventTimeTolerance
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	for _, o := range opts.AllowedOrigins {
		if strings.TrimSpace(o) == "*" {
			h.allowAll = true
			continue
		}
		host := normalizeOriginHost(o)
		if host == "" {
			return nil, fmt.Errorf("event handler: allowed origin %q has no host", o)
		}
		h.origins = append(h.origins, host)
	}
	if !h.allowAll && len(h.origins) == 0 {
		return nil, errors.New(`event handler: AllowedOrigins is empty: list the service host (or "*")`)
	}
	return h, nil
}

// ServeHTTP answers abuse protection (OPTIONS) and events (POST).
func (h *EventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodOptions:
		h.serveAbuseProtection(w, r)
	case http.MethodPost:
		h.serveEvent(w, r)
	default:
		w.Header().Set("Allow", "OPTIONS, POST")
		writeText(w, http.StatusMethodNotAllowed, "method "+quoteShort(r.Method)+" not allowed: the event handler accepts OPTIONS and POST")
	}
}

// ClientCertificate is a client certificate presented on connect.
type ClientCertificate struct {
	// Thumbprint is the certificate thumbprint.
	Thumbprint string `json:"thumbprint"`
	// Content is the PEM-encoded certificate.
	Content string `json:"content,omitempty"`
}

// ConnectRequest is the connect event: the client's WebSocket handshake, before it is accepted.
type ConnectRequest struct {
	// Context describes the connection.
	Context ConnectionContext
	// Claims are the claims of the client's access token.
	Claims map[string][]string
	// Query is the query of the client's connect URL.
	Query map[string][]string
	// Headers are the headers of the client's handshake request.
	Headers map[string][]string
	// Subprotocols are the subprotocols the client offered.
	Subprotocols []string
	// ClientCertificates are the client certificates, when client certificates are enabled.
	ClientCertificates []ClientCertificate
}

// ConnectResponse accepts a connection and sets its properties. Empty fields are omitted.
type ConnectResponse struct {
	// UserID sets the user of the connection.
	UserID string `json:"userId,omitempty"`
	// Groups are the groups the connection joins.
	Groups []string `json:"groups,omitempty"`
	// Roles are the roles (permissions) of the connection.
	Roles []string `json:"roles,omitempty"`
	// Subprotocol is the subprotocol selected; it must be one of those offered.
	Subprotocol string `json:"subprotocol,omitempty"`
}

// ConnectedRequest is the connected event: the connection is established.
type ConnectedRequest struct {
	// Context describes the connection.
	Context ConnectionContext
}

// DisconnectedRequest is the disconnected event: the connection is closed.
type DisconnectedRequest struct {
	// Context describes the connection.
	Context ConnectionContext
	// Reason is the close reason given by the service, empty for a normal close.
	Reason string
}

// UserEventRequest is a message a client sent to the server.
type UserEventRequest struct {
	// Context describes the connection; Context.EventName is the user event name.
	Context ConnectionContext
	// Data is the message.
	Data []byte
	// ContentType is ContentTypeText, ContentTypeJSON or ContentTypeBinary.
	ContentType string
}

// UserEventResponse is the reply to a user event, sent to the client that sent it.
type UserEventResponse struct {
	// Data is the reply; empty means no reply.
	Data []byte
	// ContentType is the reply's content type; empty means ContentTypeBinary.
	ContentType string
}

// EventError is returned by OnConnect to reject a connection (401 and 403 keep their status,
// 400 stays 400, others become 500) or by OnUserEvent to fail an event with StatusCode. The
// Message is sent to the service as the response body: do not put secrets in it.
type EventError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Message is the response body.
	Message string
}

// Error returns the status and the message.
func (e *EventError) Error() string {
	return fmt.Sprintf("event error %d: %s", e.StatusCode, e.Message)
}
