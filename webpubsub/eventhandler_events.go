// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
)

// Generic bodies for failures inside the app: the details go to the log, not to the service.
const (
	msgConnectFailed   = "the event handler failed to handle the connect event"
	msgUserEventFailed = "the event handler failed to handle the user event"
)

// serveEvent handles a POST: authenticate, parse, dispatch to the callback, respond.
func (h *EventHandler) serveEvent(w http.ResponseWriter, r *http.Request) {
	cc, kind, rerr := h.parseEventHeaders(r)
	if rerr != nil {
		h.reject(w, r, rerr)
		return
	}
	log := slog.New(&lazyAttrs{next: h.log.Handler(), attrs: []slog.Attr{
		slog.String("hub", cc.Hub), slog.String("conn", cc.ConnectionID),
		slog.String("user", cc.UserID), slog.String("event", cc.EventName)}})
	ctx := r.Context()
	switch kind {
	case kindConnect:
		h.serveConnect(ctx, w, r, log, cc)
	case kindConnected:
		if h.opts.OnConnected != nil {
			req := &ConnectedRequest{Context: *cc}
			h.protect(log, func() { h.opts.OnConnected(ctx, req) })
		}
		w.WriteHeader(http.StatusNoContent)
		log.Debug("Handled event", "status", http.StatusNoContent)
	case kindDisconnected:
		body, rerr := h.readBody(w, r)
		if rerr != nil {
			h.rejectLogged(w, log, rerr)
			return
		}
		reason, rerr := parseDisconnectedBody(body)
		if rerr != nil {
			h.rejectLogged(w, log, rerr)
			return
		}
		if h.opts.OnDisconnected != nil {
			req := &DisconnectedRequest{Context: *cc, Reason: reason}
			h.protect(log, func() { h.opts.OnDisconnected(ctx, req) })
		}
		w.WriteHeader(http.StatusNoContent)
		log.Debug("Handled event", "status", http.StatusNoContent)
	case kindUser:
		h.serveUserEvent(ctx, w, r, log, cc)
	}
}

func (h *EventHandler) serveConnect(ctx context.Context, w http.ResponseWriter, r *http.Request, log *slog.Logger, cc *ConnectionContext) {
	body, rerr := h.readBody(w, r)
	if rerr != nil {
		h.rejectLogged(w, log, rerr)
		return
	}
	req, rerr := parseConnectBody(cc, body)
	if rerr != nil {
		h.rejectLogged(w, log, rerr)
		return
	}
	var resp *ConnectResponse
	var err error
	if h.opts.OnConnect != nil {
		if h.protect(log, func() { resp, err = h.opts.OnConnect(ctx, req) }) {
			writeText(w, http.StatusInternalServerError, msgConnectFailed)
			return
		}
	}
	if err != nil {
		status, msg := connectErrorResponse(err)
		if status == http.StatusInternalServerError {
			log.Error("Connect handler failed", "err", err)
		} else {
			log.Info("Rejected connection", "status", status)
		}
		writeText(w, status, msg)
		return
	}
	if resp == nil {
		if !h.writeStates(w, log, &req.Context) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
		log.Debug("Accepted connection", "status", http.StatusNoContent)
		return
	}
	if verr := validateConnectResponse(resp, req.Subprotocols); verr != nil {
		log.Error("Connect handler returned an invalid response", "err", verr)
		writeText(w, http.StatusInternalServerError, msgConnectFailed)
		return
	}
	b, merr := json.Marshal(resp)
	if merr != nil {
		log.Error("Encoding connect response failed", "err", merr)
		writeText(w, http.StatusInternalServerError, msgConnectFailed)
		return
	}
	if !h.writeStates(w, log, &req.Context) {
		return
	}
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	log.Debug("Accepted connection", "status", http.StatusOK)
}

// connectErrorResponse maps an OnConnect error to the status and body the service receives.
func connectErrorResponse(err error) (int, string) {
	ee, ok := errors.AsType[*EventError](err)
	if !ok {
		return http.StatusInternalServerError, msgConnectFailed
	}
	switch ee.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
		return ee.StatusCode, messageOrStatusText(ee)
	}
	return http.StatusInternalServerError, msgConnectFailed
}

// validateConnectResponse catches app bugs the service would reject less clearly.
func validateConnectResponse(resp *ConnectResponse, offered []string) error {
	if resp.Subprotocol != "" && !slices.Contains(offered, resp.Subprotocol) {
		return fmt.Errorf("subprotocol %q was not offered by the client", resp.Subprotocol)
	}
	for _, g := range resp.Groups {
		if err := ValidateGroupName(g); err != nil {
			return err
		}
	}
	return nil
}

func (h *EventHandler) serveUserEvent(ctx context.Context, w http.ResponseWriter, r *http.Request, log *slog.Logger, cc *ConnectionContext) {
	ct, rerr := userEventContentType(r.Header.Get("Content-Type"))
	if rerr != nil {
		h.rejectLogged(w, log, rerr)
		return
	}
	body, rerr := h.readBody(w, r)
	if rerr != nil {
		h.rejectLogged(w, log, rerr)
		return
	}
	req := &UserEventRequest{Context: *cc, Data: body, ContentType: ct}
	var resp *UserEventResponse
	var err error
	if h.opts.OnUserEvent != nil {
		if h.protect(log, func() { resp, err = h.opts.OnUserEvent(ctx, req) }) {
			writeText(w, http.StatusInternalServerError, msgUserEventFailed)
			return
		}
	}
	if err != nil {
		if ee, ok := errors.AsType[*EventError](err); ok && ee.StatusCode >= 400 && ee.StatusCode <= 599 {
			log.Info("User event failed", "status", ee.StatusCode)
			writeText(w, ee.StatusCode, messageOrStatusText(ee))
			return
		}
		log.Error("User event handler failed", "err", err)
		writeText(w, http.StatusInternalServerError, msgUserEventFailed)
		return
	}
	if !h.writeStates(w, log, &req.Context) {
		return
	}
	if resp == nil || len(resp.Data) == 0 {
		w.WriteHeader(http.StatusNoContent)
		log.Debug("Handled event", "status", http.StatusNoContent)
		return
	}
	replyType := resp.ContentType
	if replyType == "" {
		replyType = ContentTypeBinary
	}
	w.Header().Set("Content-Type", replyType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.Data)
	log.Debug("Handled event", "status", http.StatusOK)
}

// writeStates sets the ce-connectionState response header when the callback changed the
// states. On failure it answers 500 and returns false.
func (h *EventHandler) writeStates(w http.ResponseWriter, log *slog.Logger, cc *ConnectionContext) bool {
	if !cc.statesChanged {
		return true
	}
	v, err := encodeConnectionState(cc.States)
	if err != nil {
		log.Error("Encoding connection states failed", "err", err)
		writeText(w, http.StatusInternalServerError, "the event handler failed to encode the connection states")
		return false
	}
	w.Header().Set(HeaderConnectionState, v)
	return true
}

// protect runs a callback, turning a panic into a logged error; it reports whether one
// happened. http.ErrAbortHandler keeps its meaning.
func (h *EventHandler) protect(log *slog.Logger, fn func()) (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // the panic value itself, compared as net/http does
				panic(v)
			}
			log.Error("Event callback panicked", "panic", fmt.Sprint(v))
			panicked = true
		}
	}()
	fn()
	return false
}

// reject answers a request that failed before it was authenticated or parsed.
func (h *EventHandler) reject(w http.ResponseWriter, r *http.Request, e *requestError) {
	level := slog.LevelInfo
	if e.status == http.StatusUnauthorized {
		level = slog.LevelWarn
	}
	// Header values are not authenticated yet: only short quoted forms are logged.
	h.log.Log(r.Context(), level, "Rejected event", "status", e.status, "reason", e.msg,
		"conn", cutForLog(r.Header.Get(HeaderConnectionID)), "event", cutForLog(r.Header.Get(HeaderEventName)),
		"remote", r.RemoteAddr)
	writeText(w, e.status, e.msg)
}

func (h *EventHandler) rejectLogged(w http.ResponseWriter, log *slog.Logger, e *requestError) {
	log.Info("Rejected event", "status", e.status, "reason", e.msg)
	writeText(w, e.status, e.msg)
}

func messageOrStatusText(e *EventError) string {
	if e.Message != "" {
		return e.Message
	}
	return http.StatusText(e.StatusCode)
}

// writeText writes a plain-text response.
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg) //nolint:gosec // G705: text/plain with nosniff is not rendered as HTML
}

// lazyAttrs adds attrs to every record of a logger the way Logger.With does, but only when a
// record is written: the handlers of log/slog format With's attributes at once, which an
// event handler would pay on every event for log lines (Debug) that are usually off.
type lazyAttrs struct {
	next  slog.Handler
	attrs []slog.Attr
}

// Enabled implements slog.Handler.
func (l *lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return l.next.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (l *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	return l.next.WithAttrs(l.attrs).Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (l *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &lazyAttrs{next: l.next, attrs: append(l.attrs[:len(l.attrs):len(l.attrs)], attrs...)}
}

// WithGroup implements slog.Handler.
func (l *lazyAttrs) WithGroup(name string) slog.Handler {
	return l.next.WithAttrs(l.attrs).WithGroup(name)
}
