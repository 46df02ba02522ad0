// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/pubsub/transport"
	"github.com/chathub/chathub/pubsub/upstream"
	"github.com/chathub/chathub/webpubsub"
)

// Query parameters of the client endpoint.
const (
	queryAccessToken      = "access_token"
	queryHub              = "hub"
	queryRecoveryConnID   = "awps_connection_id"
	queryRecoveryToken    = "awps_reconnection_token"
	connectionIDBytes     = 16
	reconnectionTokenSize = 32
)

// serveClient handles /client/hubs/{hub} and /client/?hub=. A new connection goes through
// four steps: authorize (the token), connectUpstream (the connect event), upgrade (the
// WebSocket handshake) and register (in the hub, then its reader starts). A client with a
// recovery id is reattached instead (recoverClient).
func (s *Server) serveClient(w http.ResponseWriter, r *http.Request) {
	hubName, ok := s.checkRequest(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if id := q.Get(queryRecoveryConnID); id != "" {
		s.recoverClient(w, r, hubName, id, q.Get(queryRecoveryToken))
		return
	}
	hs, ok := s.authorize(w, r, hubName)
	if !ok {
		return
	}
	markAuthenticated(r.Context())
	if !s.connectUpstream(w, r, hs) {
		return
	}
	k, ok := s.upgrade(w, r, hs)
	if !ok {
		return
	}
	s.register(k, hs)
}

// clientHandshake is what the steps of serveClient learn about a new connection.
type clientHandshake struct {
	// Set by authorize.
	token  string
	claims *webpubsub.TokenClaims
	info   upstream.ConnectionInfo // hub, connection id and the token's user

	// Set by connectUpstream: the token's values merged with the connect handler's.
	userID      string
	roles       []string
	groups      []string
	subprotocol string
	kind        protocol.Kind
	state       string
}

// checkRequest answers a request that is not a WebSocket handshake to a valid hub name of a
// running service; it returns the hub name.
func (s *Server) checkRequest(w http.ResponseWriter, r *http.Request) (hubName string, ok bool) {
	hubName = r.PathValue("hub")
	if hubName == "" {
		hubName = r.URL.Query().Get(queryHub)
	}
	if err := webpubsub.ValidateHubName(hubName); err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	if !transport.IsUpgrade(r) {
		s.reject(w, http.StatusBadRequest, "this endpoint only accepts WebSocket connections")
		return "", false
	}
	if s.closing.Load() {
		s.reject(w, http.StatusServiceUnavailable, "the service is shutting down")
		return "", false
	}
	if s.cluster != nil && !s.cluster.Ready() {
		s.reject(w, http.StatusServiceUnavailable, "this replica is not connected to the other replicas")
		return "", false
	}
	return hubName, true
}

// authorize verifies the client's token (query or bearer header) for hubName and the group
// names it claims, and picks the connection id.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, hubName string) (*clientHandshake, bool) {
	token := r.URL.Query().Get(queryAccessToken)
	if token == "" {
		token = bearerToken(r)
	}
	claims, err := s.verifyToken(token, r, clientPath(hubName)...)
	if err != nil {
		s.reject(w, http.StatusUnauthorized, err.Error())
		return nil, false
	}
	for _, g := range claims.Groups {
		if err := webpubsub.ValidateGroupName(g); err != nil {
			s.reject(w, http.StatusBadRequest, "token group claim: "+err.Error())
			return nil, false
		}
	}
	return &clientHandshake{
		token:  token,
		claims: claims,
		info:   upstream.ConnectionInfo{Hub: hubName, ConnectionID: s.connectionID(), UserID: claims.Subject},
	}, true
}

// connectUpstream sends the connect event and merges the handler's answer (user, roles,
// groups, subprotocol, state) into hs. A refusal or failure is answered with its HTTP status.
func (s *Server) connectUpstream(w http.ResponseWriter, r *http.Request, hs *clientHandshake) bool {
	offered := transport.Subprotocols(r)
	res, err := s.disp.Connect(r.Context(), hs.info, upstream.ConnectEventBody{
		Claims:       tokenClaimsMap(hs.token),
		Query:        connectQuery(r),
		Headers:      connectHeaders(r),
		Subprotocols: offered,
	})
	if err != nil {
		s.rejectConnect(w, hs.info, err)
		return false
	}
	hs.userID, hs.roles, hs.groups = hs.claims.Subject, hs.claims.Roles, hs.claims.Groups
	if res.UserID != "" {
		hs.userID = res.UserID
	}
	hs.roles = append(slices.Clone(hs.roles), res.Roles...)
	hs.groups = append(slices.Clone(hs.groups), res.Groups...)
	// The handler has accepted the connection: from here on a failed handshake still owes
	// it the disconnected event (protocol doc §3.4).
	acceptedButFailed := func(status int, msg string) {
		s.reject(w, status, msg)
		info := hs.info
		info.UserID = hs.userID
		if res.State != nil {
			info.State = *res.State
		}
		s.disp.Disconnected(info, "HandshakeFailed")
	}
	for _, g := range res.Groups {
		if err := webpubsub.ValidateGroupName(g); err != nil {
			acceptedButFailed(http.StatusInternalServerError, "the connect handler returned an invalid group: "+err.Error())
			return false
		}
	}
	subprotocol, err := chooseSubprotocol(offered, res.Subprotocol)
	if err != nil {
		acceptedButFailed(http.StatusInternalServerError, err.Error())
		return false
	}
	hs.subprotocol, hs.kind = subprotocol, protocol.KindOf(subprotocol)
	if res.State != nil {
		hs.state = *res.State
	}
	return true
}

// rejectConnect answers a handshake whose connect event failed or was refused.
func (s *Server) rejectConnect(w http.ResponseWriter, info upstream.ConnectionInfo, err error) {
	var rej *upstream.RejectError
	switch {
	case errors.As(err, &rej):
		status, msg := rej.StatusCode, "the event handler rejected the connection"
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		// A deliberate refusal (400, 401, 403: the SDKs' user error and unauthorized) carries
		// the app's reason for the client; other failures may describe the app's internals
		// and stay generic.
		deliberate := status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden
		if deliberate && rej.Message != "" {
			msg += ": " + rej.Message
		}
		s.reject(w, status, msg)
	case errors.Is(err, context.Canceled):
		s.reject(w, http.StatusBadRequest, "the client went away during connect")
	default:
		s.log.Warn("Connect event failed", "hub", info.Hub, "conn", info.ConnectionID, "error", err)
		s.reject(w, http.StatusInternalServerError, "the connect event failed")
	}
}

// upgrade completes the WebSocket handshake with the chosen subprotocol. When it fails (the
// upgrader has answered the client), the accepted connection gets its disconnected event.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, hs *clientHandshake) (*transport.Socket, bool) {
	k, err := s.transport.Upgrade(w, r, hs.subprotocol, hs.kind)
	if err != nil {
		info := hs.info
		info.UserID, info.Subprotocol, info.State = hs.userID, hs.subprotocol, hs.state
		s.disp.Disconnected(info, "HandshakeFailed")
		return nil, false
	}
	return k, true
}

// register adds the connection to its hub with the connected message, joins its groups,
// sends the connected event and starts the socket's reader.
func (s *Server) register(k *transport.Socket, hs *clientHandshake) {
	var reconnToken string
	if hs.kind == protocol.KindJSONReliable {
		reconnToken = newID(reconnectionTokenSize)
	}
	var initial []byte
	if hs.kind != protocol.KindRaw {
		initial = protocol.Connected(hs.userID, hs.info.ConnectionID, reconnToken)
	}
	c, err := s.reg.Hub(hs.info.Hub).Register(hub.ConnOptions{
		ID: hs.info.ConnectionID, UserID: hs.userID, Subprotocol: hs.subprotocol, Kind: hs.kind, Roles: hs.roles,
		State: hs.state, ReconnectionToken: reconnToken, Transport: k, Initial: initial,
	})
	if err != nil { // a random 128-bit id collided: refuse rather than mix connections
		k.Refuse(protocol.CloseInternal, "retry")
		return
	}
	k.Attach(c)
	for _, g := range hs.groups {
		_ = c.Join(g)
	}
	// Counted before the connected message goes out, so a client that has it sees the count.
	s.metrics.connects.WithLabelValues(kindLabel(hs.kind)).Inc()
	k.Notify()
	s.log.Debug("Connection opened", "hub", hs.info.Hub, "conn", hs.info.ConnectionID, "user", hs.userID, "protocol", kindLabel(hs.kind))
	// Queued only while the connection is open: a REST call may already have closed it and
	// queued its disconnected event, which must stay the last one.
	info := connInfo(c)
	c.WhileOpen(func() { s.disp.Connected(info) })
	k.Start()
}

// recoverClient reattaches a reliable client to its connection, or completes the handshake
// and closes with 1008 so the client starts a new connection.
func (s *Server) recoverClient(w http.ResponseWriter, r *http.Request, hubName, connID, token string) {
	// Looked up, never created: the client has not authenticated (its reconnection token is
	// checked by Resume).
	var c *hub.Conn
	if h := s.reg.Lookup(hubName); h != nil {
		c = h.Conn(connID)
	}
	subprotocol := webpubsub.SubprotocolJSONReliable
	if c != nil {
		subprotocol = c.Subprotocol()
	}
	if !slices.Contains(transport.Subprotocols(r), subprotocol) {
		subprotocol = ""
	}
	kind := protocol.KindJSONReliable
	if c != nil {
		kind = c.Kind()
	}
	k, err := s.transport.Upgrade(w, r, subprotocol, kind)
	if err != nil {
		return
	}
	if c == nil || subprotocol == "" {
		k.Refuse(protocol.ClosePolicy, "the connection cannot be recovered")
		return
	}
	k.Attach(c)
	if err := c.Resume(k, token, protocol.Connected(c.UserID(), c.ID(), token)); err != nil {
		k.Refuse(protocol.ClosePolicy, "the connection cannot be recovered")
		return
	}
	s.log.Debug("Connection recovered", "hub", hubName, "conn", connID)
	k.Start()
}

// reject answers a handshake with an HTTP error.
func (s *Server) reject(w http.ResponseWriter, status int, msg string) {
	s.metrics.rejected.WithLabelValues(strconv.Itoa(status)).Inc()
	http.Error(w, msg, status)
}

// chooseSubprotocol picks the connection's subprotocol: the connect handler's choice (which
// must be one the client offered), else the first offered one the service speaks, else none.
func chooseSubprotocol(offered []string, chosen string) (string, error) {
	if chosen != "" {
		if !slices.Contains(offered, chosen) {
			return "", fmt.Errorf("the connect handler chose subprotocol %q, which the client did not offer", chosen)
		}
		return chosen, nil
	}
	for _, p := range offered {
		if protocol.Supported(p) {
			return p, nil
		}
	}
	return "", nil
}

// connectQuery is the query of the connect event without the token and recovery values.
func connectQuery(r *http.Request) map[string][]string {
	q := r.URL.Query()
	for _, k := range []string{queryAccessToken, queryRecoveryConnID, queryRecoveryToken} {
		q.Del(k)
	}
	return q
}

// connectHeaders are the request headers of the connect event without credentials and
// WebSocket plumbing.
func connectHeaders(r *http.Request) map[string][]string {
	h := make(map[string][]string, len(r.Header))
	for k, v := range r.Header {
		switch strings.ToLower(k) {
		case "authorization", "cookie", "sec-websocket-key", "sec-websocket-extensions", "connection", "upgrade":
			continue
		}
		h[k] = v
	}
	return h
}

func kindLabel(k protocol.Kind) string {
	if k == protocol.KindRaw {
		return "raw"
	}
	return k.String()
}
