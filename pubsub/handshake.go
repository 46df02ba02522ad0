package pubsub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
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

// serveClient handles /client/hubs/{hub} and /client/?hub=: token checks, the upstream
// connect event, the upgrade and registration.
func (s *Server) serveClient(w http.ResponseWriter, r *http.Request) {
	hubName := r.PathValue("hub")
	if hubName == "" {
		hubName = r.URL.Query().Get(queryHub)
	}
	if err := webpubsub.ValidateHubName(hubName); err != nil {
		s.reject(w, http.StatusBadRequest, err.Error())
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		s.reject(w, http.StatusBadRequest, "this endpoint only accepts WebSocket connections")
		return
	}
	if s.closing.Load() {
		s.reject(w, http.StatusServiceUnavailable, "the service is shutting down")
		return
	}
	q := r.URL.Query()
	if id := q.Get(queryRecoveryConnID); id != "" {
		s.recoverClient(w, r, hubName, id, q.Get(queryRecoveryToken))
		return
	}
	token := q.Get(queryAccessToken)
	if token == "" {
		token = bearerToken(r)
	}
	claims, err := s.verifyToken(token, r, clientPath(hubName)...)
	if err != nil {
		s.reject(w, http.StatusUnauthorized, err.Error())
		return
	}
	for _, g := range claims.Groups {
		if err := webpubsub.ValidateGroupName(g); err != nil {
			s.reject(w, http.StatusBadRequest, "token group claim: "+err.Error())
			return
		}
	}
	offered := websocket.Subprotocols(r)
	connID := newID(connectionIDBytes)
	info := upstream.ConnectionInfo{Hub: hubName, ConnectionID: connID, UserID: claims.Subject}
	res, err := s.disp.Connect(r.Context(), info, upstream.ConnectEventBody{
		Claims:       tokenClaimsMap(token),
		Query:        connectQuery(r),
		Headers:      connectHeaders(r),
		Subprotocols: offered,
	})
	if err != nil {
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
			s.log.Warn("Connect event failed", "hub", hubName, "conn", connID, "error", err)
			s.reject(w, http.StatusInternalServerError, "the connect event failed")
		}
		return
	}
	userID, roles, groups := claims.Subject, claims.Roles, claims.Groups
	if res.UserID != "" {
		userID = res.UserID
	}
	roles = append(slices.Clone(roles), res.Roles...)
	groups = append(slices.Clone(groups), res.Groups...)
	// The handler has accepted the connection: from here on a failed handshake still owes
	// it the disconnected event (protocol doc §3.4).
	acceptedButFailed := func(status int, msg string) {
		s.reject(w, status, msg)
		info.UserID = userID
		if res.State != nil {
			info.State = *res.State
		}
		s.disp.Disconnected(info, "HandshakeFailed")
	}
	for _, g := range res.Groups {
		if err := webpubsub.ValidateGroupName(g); err != nil {
			acceptedButFailed(http.StatusInternalServerError, "the connect handler returned an invalid group: "+err.Error())
			return
		}
	}
	subprotocol, err := chooseSubprotocol(offered, res.Subprotocol)
	if err != nil {
		acceptedButFailed(http.StatusInternalServerError, err.Error())
		return
	}
	kind := protocol.KindOf(subprotocol)
	var state string
	if res.State != nil {
		state = *res.State
	}

	ws, err := s.upgrader.Upgrade(w, r, subprotocolHeader(subprotocol))
	if err != nil { // the upgrader has answered the client; connect succeeded, so close the loop
		info.UserID, info.Subprotocol, info.State = userID, subprotocol, state
		s.disp.Disconnected(info, "HandshakeFailed")
		return
	}
	k := newSocket(s, ws, kind)
	var reconnToken string
	if kind == protocol.KindJSONReliable {
		reconnToken = newID(reconnectionTokenSize)
	}
	var initial []byte
	if kind != protocol.KindRaw {
		initial = protocol.Connected(userID, connID, reconnToken)
	}
	c, err := s.reg.Hub(hubName).Register(hub.ConnOptions{
		ID: connID, UserID: userID, Subprotocol: subprotocol, Kind: kind, Roles: roles, State: state,
		ReconnectionToken: reconnToken, Transport: k, Initial: initial,
	})
	if err != nil { // a random 128-bit id collided: refuse rather than mix connections
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseInternal, "retry"), deadlineSoon())
		_ = ws.Close()
		return
	}
	k.conn.Store(c)
	for _, g := range groups {
		_ = c.Join(g)
	}
	k.Notify()
	s.metrics.connects.WithLabelValues(kindLabel(kind)).Inc()
	s.log.Debug("Connection opened", "hub", hubName, "conn", connID, "user", userID, "protocol", kindLabel(kind))
	s.disp.Connected(connInfo(c))
	s.sockets.Add(1)
	go k.readLoop(c)
}

// recoverClient reattaches a reliable client to its connection, or completes the handshake
// and closes with 1008 so the client starts a new connection.
func (s *Server) recoverClient(w http.ResponseWriter, r *http.Request, hubName, connID, token string) {
	c := s.reg.Hub(hubName).Conn(connID)
	subprotocol := webpubsub.SubprotocolJSONReliable
	if c != nil {
		subprotocol = c.Subprotocol()
	}
	if !slices.Contains(websocket.Subprotocols(r), subprotocol) {
		subprotocol = ""
	}
	ws, err := s.upgrader.Upgrade(w, r, subprotocolHeader(subprotocol))
	if err != nil {
		return
	}
	fail := func(reason string) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.ClosePolicy, reason), deadlineSoon())
		_ = ws.Close()
	}
	if c == nil || subprotocol == "" {
		fail("the connection cannot be recovered")
		return
	}
	k := newSocket(s, ws, c.Kind())
	k.conn.Store(c)
	if err := c.Resume(k, token, protocol.Connected(c.UserID(), c.ID(), token)); err != nil {
		fail("the connection cannot be recovered")
		return
	}
	s.log.Debug("Connection recovered", "hub", hubName, "conn", connID)
	s.sockets.Add(1)
	go k.readLoop(c)
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

func subprotocolHeader(p string) http.Header {
	if p == "" {
		return nil
	}
	return http.Header{"Sec-Websocket-Protocol": {p}}
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

// deadlineSoon bounds a control frame written during a refused handshake.
func deadlineSoon() time.Time { return time.Now().Add(time.Second) }
