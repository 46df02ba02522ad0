// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// requestError is a rejected event: the status and the message the service receives.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// eventKind is the routing class of a ce-type.
type eventKind int

const (
	kindConnect eventKind = iota + 1
	kindConnected
	kindDisconnected
	kindUser
)

// requiredEventHeaders are checked, in this order, before the signature.
var requiredEventHeaders = []string{HeaderSpecVersion, HeaderType, HeaderConnectionID, HeaderHub, HeaderEventName}

// parseEventHeaders authenticates the request and builds its ConnectionContext. The signature
// is checked before any other value is interpreted.
func (h *EventHandler) parseEventHeaders(r *http.Request) (*ConnectionContext, eventKind, *requestError) {
	for _, name := range requiredEventHeaders {
		if strings.TrimSpace(r.Header.Get(name)) == "" {
			return nil, 0, badRequest("missing required header %s", name)
		}
	}
	connID := r.Header.Get(HeaderConnectionID)
	// The service sends one header; joining repeated ones only adds entries to check.
	sig := strings.Join(r.Header.Values(HeaderSignature), ",")
	if strings.TrimSpace(sig) == "" {
		return nil, 0, &requestError{status: http.StatusUnauthorized, msg: "missing header " + HeaderSignature}
	}
	if !VerifySignature(sig, connID, h.opts.AccessKeys()) {
		return nil, 0, &requestError{status: http.StatusUnauthorized, msg: HeaderSignature + " does not match any access key"}
	}

	if v := r.Header.Get(HeaderSpecVersion); v != "1.0" {
		return nil, 0, badRequest("unsupported %s %s: want 1.0", HeaderSpecVersion, quoteShort(v))
	}
	hub := r.Header.Get(HeaderHub)
	if !strings.EqualFold(hub, h.opts.Hub) {
		return nil, 0, badRequest("event for hub %s: this handler serves hub %q", quoteShort(hub), h.opts.Hub)
	}
	cc := &ConnectionContext{
		Hub:          hub,
		ConnectionID: connID,
		UserID:       r.Header.Get(HeaderUserID),
		EventName:    r.Header.Get(HeaderEventName),
		EventType:    r.Header.Get(HeaderType),
		Subprotocol:  r.Header.Get(HeaderSubprotocol),
		Origin:       r.Header.Get(HeaderRequestOrigin),
		ID:           r.Header.Get(HeaderID),
	}
	kind, err := classifyEventType(cc.EventType)
	if err != nil {
		return nil, 0, err
	}
	if v := r.Header.Get(HeaderTime); v != "" {
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			return nil, 0, badRequest("malformed %s %s: want an RFC 3339 time", HeaderTime, quoteShort(v))
		}
		cc.Time = t
	}
	if err := h.checkTime(cc.Time); err != nil {
		return nil, 0, err
	}
	states, serr := decodeConnectionState(r.Header.Get(HeaderConnectionState))
	if serr != nil {
		// The value is never quoted: states may hold anything the app stored.
		return nil, 0, badRequest("malformed %s: %v", HeaderConnectionState, serr)
	}
	cc.States = states
	return cc, kind, nil
}

// checkTime refuses an event outside the replay window: the service stamps every event with
// ce-time, so a missing one or one too far from now is a forged or replayed request.
func (h *EventHandler) checkTime(t time.Time) *requestError {
	if h.skew < 0 {
		return nil
	}
	if t.IsZero() {
		return &requestError{status: http.StatusUnauthorized, msg: "missing header " + HeaderTime + ": events without a time are refused as possible replays"}
	}
	if d := h.now().Sub(t); d > h.skew || d < -h.skew {
		return &requestError{status: http.StatusUnauthorized, msg: fmt.Sprintf(
			"%s %s is %s from this server's clock, more than the tolerance of %s: refused as a possible replay",
			HeaderTime, t.UTC().Format(time.RFC3339), d.Round(time.Second).Abs(), h.skew)}
	}
	return nil
}

func classifyEventType(t string) (eventKind, *requestError) {
	switch t {
	case EventTypeConnect:
		return kindConnect, nil
	case EventTypeConnected:
		return kindConnected, nil
	case EventTypeDisconnected:
		return kindDisconnected, nil
	}
	if name, ok := strings.CutPrefix(t, EventTypeUserPrefix); ok && name != "" {
		return kindUser, nil
	}
	return 0, badRequest("unknown %s %s", HeaderType, quoteShort(t))
}

// readBody reads the whole body, never more than the handler's limit.
func (h *EventHandler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *requestError) {
	if r.ContentLength > h.maxBody {
		return nil, badRequest("request body is %d bytes, the limit is %d", r.ContentLength, h.maxBody)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, badRequest("request body exceeds the limit of %d bytes", h.maxBody)
		}
		return nil, badRequest("reading request body failed")
	}
	return b, nil
}

// connectEventBody is the body of the connect event.
type connectEventBody struct {
	Claims             map[string]stringList `json:"claims"`
	Query              map[string]stringList `json:"query"`
	Headers            map[string]stringList `json:"headers"`
	Subprotocols       stringList            `json:"subprotocols"`
	ClientCertificates []ClientCertificate   `json:"clientCertificates"`
}

// parseConnectBody decodes the connect event body; an empty body is an empty event.
func parseConnectBody(cc *ConnectionContext, body []byte) (*ConnectRequest, *requestError) {
	var b connectEventBody
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, badRequest("malformed connect event body: %s", jsonErrorText(err))
		}
	}
	return &ConnectRequest{
		Context:            *cc,
		Claims:             stringListMap(b.Claims),
		Query:              stringListMap(b.Query),
		Headers:            stringListMap(b.Headers),
		Subprotocols:       b.Subprotocols,
		ClientCertificates: b.ClientCertificates,
	}, nil
}

// parseDisconnectedBody returns the reason of the disconnected event body.
func parseDisconnectedBody(body []byte) (string, *requestError) {
	var b struct {
		Reason string `json:"reason"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &b); err != nil {
			return "", badRequest("malformed disconnected event body: %s", jsonErrorText(err))
		}
	}
	return b.Reason, nil
}

// userEventContentType maps the Content-Type of a user event to one of the three data types.
// No Content-Type means binary, as the service sends binary frames.
func userEventContentType(v string) (string, *requestError) {
	if strings.TrimSpace(v) == "" {
		return ContentTypeBinary, nil
	}
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return "", badRequest("malformed Content-Type %s", quoteShort(v))
	}
	switch mt {
	case ContentTypeText, ContentTypeJSON, ContentTypeBinary:
		return mt, nil
	}
	return "", badRequest("unsupported Content-Type %s for a user event: want %s, %s or %s",
		quoteShort(mt), ContentTypeText, ContentTypeJSON, ContentTypeBinary)
}

// errNestedValue rejects an object or array where a string list entry is expected.
var errNestedValue = errors.New("a value is a nested object or array, want strings")

// stringList decodes a JSON array of scalars, or a single scalar, as strings. The service sends
// arrays of strings; scalars are accepted so that other senders' claims still decode.
type stringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make([]string, 0, len(raw))
		for _, v := range raw {
			s, null, err := scalarString(v)
			if err != nil {
				return err
			}
			if !null {
				out = append(out, s)
			}
		}
		*l = out
		return nil
	}
	s, null, err := scalarString(b)
	if err != nil {
		return err
	}
	if null {
		*l = nil
	} else {
		*l = stringList{s}
	}
	return nil
}

// scalarString returns the string form of a JSON string, number or boolean.
func scalarString(b json.RawMessage) (s string, null bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", false, errors.New("empty value")
	}
	switch b[0] {
	case '"':
		err = json.Unmarshal(b, &s)
		return s, false, err
	case 'n':
		return "", true, nil
	case '{', '[':
		return "", false, errNestedValue
	}
	// Numbers and booleans keep their JSON text.
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", false, err
	}
	return string(b), false, nil
}

func stringListMap(m map[string]stringList) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// jsonErrorText describes a JSON error without quoting the input.
func jsonErrorText(err error) string {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		if strings.Contains(se.Error(), "unexpected end") {
			return "truncated JSON"
		}
		return "invalid JSON at byte " + strconv.FormatInt(se.Offset, 10)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field != "" {
			return "field " + te.Field + " has the wrong type (" + te.Value + ")"
		}
		return "wrong JSON type (" + te.Value + ")"
	}
	if errors.Is(err, errNestedValue) {
		return errNestedValue.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "truncated JSON"
	}
	return "invalid JSON"
}

// shortLimit is the length at which request values are cut in messages and logs.
const shortLimit = 64

// quoteShort quotes a value from a request for a message, cut to a readable length.
func quoteShort(s string) string {
	if len(s) > shortLimit {
		return strconv.Quote(s[:shortLimit]) + "…"
	}
	return strconv.Quote(s)
}

// cutForLog cuts an unauthenticated request value for a log record (the handler escapes it).
func cutForLog(s string) string {
	if len(s) > shortLimit {
		return s[:shortLimit] + "…"
	}
	return s
}
