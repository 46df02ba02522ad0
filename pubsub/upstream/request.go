// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

const (
	specVersion       = "1.0"
	awpsVersion       = "1.0"
	contentTypeSystem = "application/json; charset=utf-8"
	maxRejectMessage  = 512
)

// response is a handler's successful answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// attemptError is the outcome of one failed attempt.
type attemptError struct {
	status    int // 0 => no HTTP answer
	message   string
	err       error
	retryable bool
}

// deliver sends ev to h: it validates the handler URL (abuse protection), then POSTs the event,
// retrying network errors, 408 and 5xx after cfg.RetryDelays, all within cfg.Timeout.
func (d *Dispatcher) deliver(ctx context.Context, h *webpubsub.EventHandlerSettings, ev *event) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	if h.Auth != nil && strings.EqualFold(h.Auth.Type, settings.AuthManagedIdentity) {
		d.miWarned.Do(func() {
			d.log.Warn("Managed identity upstream auth is not available in the PubSub service; events are sent without a token")
		})
	}
	target := settings.ExpandTemplate(h.URLTemplate, ev.info.Hub, ev.name)
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("event handler URL of hub %q is invalid: %w", ev.info.Hub, unwrapURLError(err))
	}
	if err := d.valid.check(ctx, settings.ExpandTemplate(h.URLTemplate, ev.info.Hub, "validate")); err != nil {
		d.metrics.requests.WithLabelValues(ev.kind, outcomeNotValidated).Inc()
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		resp, aerr := d.attempt(ctx, u, ev)
		if aerr == nil {
			return resp, nil
		}
		// A 4xx is the handler's decision (e.g. a rejected client), not a fault.
		level := slog.LevelWarn
		if aerr.status >= 400 && aerr.status < 500 && aerr.status != http.StatusRequestTimeout {
			level = slog.LevelInfo
		}
		d.log.Log(ctx, level, "Upstream event failed",
			"event", ev.kind, "hub", ev.info.Hub, "conn", ev.info.ConnectionID,
			"url", redactURL(u), "attempt", attempt+1, "status", aerr.status, "error", aerr.err)
		if !aerr.retryable || attempt >= len(d.cfg.RetryDelays) || ctx.Err() != nil {
			return nil, finalError(u, ev, aerr)
		}
		t := time.NewTimer(d.cfg.RetryDelays[attempt])
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, finalError(u, ev, aerr)
		}
	}
}

func finalError(u *url.URL, ev *event, aerr *attemptError) error {
	if aerr.status != 0 {
		return &RejectError{StatusCode: aerr.status, Message: aerr.message}
	}
	return fmt.Errorf("delivering %s event to %s: %w", ev.name, redactURL(u), aerr.err)
}

// attempt POSTs ev once.
func (d *Dispatcher) attempt(ctx context.Context, u *url.URL, ev *event) (*response, *attemptError) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(ev.body))
	if err != nil {
		return nil, &attemptError{err: unwrapURLError(err)}
	}
	d.setHeaders(req.Header, ev)
	start := time.Now()
	res, err := d.client.Do(req)
	if err != nil {
		d.observe(ev.kind, outcomeError, start)
		// Network errors are retried; a spent deadline or a cancelled caller is not.
		return nil, &attemptError{err: unwrapURLError(err), retryable: ctx.Err() == nil}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, d.cfg.MaxResponseBytes+1))
	if err != nil {
		d.observe(ev.kind, outcomeError, start)
		return nil, &attemptError{err: fmt.Errorf("reading the answer: %w", unwrapURLError(err)), retryable: ctx.Err() == nil}
	}
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		if int64(len(body)) > d.cfg.MaxResponseBytes {
			d.observe(ev.kind, outcomeError, start)
			return nil, &attemptError{status: http.StatusInternalServerError,
				err: fmt.Errorf("the answer is larger than %d bytes", d.cfg.MaxResponseBytes)}
		}
		d.observe(ev.kind, outcomeSuccess, start)
		return &response{status: res.StatusCode, header: res.Header, body: body}, nil
	case res.StatusCode == http.StatusRequestTimeout || res.StatusCode >= 500:
		d.observe(ev.kind, outcomeFailure, start)
		return nil, &attemptError{status: res.StatusCode, message: rejectMessage(res.Header, body),
			err: fmt.Errorf("status %d", res.StatusCode), retryable: true}
	default:
		d.observe(ev.kind, outcomeRejected, start)
		return nil, &attemptError{status: res.StatusCode, message: rejectMessage(res.Header, body),
			err: fmt.Errorf("status %d", res.StatusCode)}
	}
}

// setHeaders writes the CloudEvents binary-mode headers of ev, with the spellings the service
// uses.
func (d *Dispatcher) setHeaders(h http.Header, ev *event) {
	i := ev.info
	// One backing array for the values of every header below (at most 16), instead of one
	// allocation per header; each value gets a full slice of its own (capacity 1), so an
	// append to one header never overwrites the next.
	vals := make([]string, 0, 16)
	set := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	set(webpubsub.HeaderSpecVersion, specVersion)
	set(webpubsub.HeaderType, ev.ceType)
	set(webpubsub.HeaderSource, "/hubs/"+i.Hub+"/client/"+i.ConnectionID)
	set(webpubsub.HeaderID, strconv.FormatUint(ev.id, 10))
	set(webpubsub.HeaderTime, d.now().UTC().Format(time.RFC3339Nano))
	set(webpubsub.HeaderAWPSVersion, awpsVersion)
	if sig := webpubsub.SignatureHeader(d.cfg.AccessKeys(), i.ConnectionID); sig != "" {
		set(webpubsub.HeaderSignature, sig)
	}
	if i.UserID != "" {
		set(webpubsub.HeaderUserID, i.UserID)
	}
	set(webpubsub.HeaderConnectionID, i.ConnectionID)
	set(webpubsub.HeaderHub, i.Hub)
	set(webpubsub.HeaderEventName, ev.name)
	if i.Subprotocol != "" {
		set(webpubsub.HeaderSubprotocol, i.Subprotocol)
	}
	if i.State != "" {
		set(webpubsub.HeaderConnectionState, i.State)
	}
	set(webpubsub.HeaderRequestOrigin, d.cfg.Origin)
	ct := ev.contentType
	if ct == "" {
		ct = webpubsub.ContentTypeBinary
	}
	h.Set("Content-Type", ct)
}

// rejectMessage returns the start of a plain-text or JSON error answer, cleaned of control
// characters, for the client.
func rejectMessage(h http.Header, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if mt != "" && !strings.HasPrefix(mt, "text/") && mt != webpubsub.ContentTypeJSON {
		return ""
	}
	if len(body) > maxRejectMessage {
		body = body[:maxRejectMessage]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(body), ""))
}

// redactURL returns u without user info, query and fragment (which may carry a function key).
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func encodeConnectBody(b ConnectEventBody) ([]byte, error) {
	if b.Claims == nil {
		b.Claims = map[string][]string{}
	}
	if b.Query == nil {
		b.Query = map[string][]string{}
	}
	if b.Headers == nil {
		b.Headers = map[string][]string{}
	}
	if b.Subprotocols == nil {
		b.Subprotocols = []string{}
	}
	data, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding the connect event: %w", err)
	}
	return data, nil
}

func encodeDisconnectedBody(reason string) []byte {
	data, _ := json.Marshal(struct {
		Reason string `json:"reason"`
	}{reason})
	return data
}

// decodeConnectResult reads a connect handler's answer: 204 or an empty body accept the
// client as is; a JSON body sets userId, groups, roles and subprotocol.
func decodeConnectResult(r *response) (*ConnectResult, error) {
	res := &ConnectResult{State: stateOf(r.header)}
	if len(bytes.TrimSpace(r.body)) == 0 {
		return res, nil
	}
	var body struct {
		UserID      string   `json:"userId"`
		Groups      []string `json:"groups"`
		Roles       []string `json:"roles"`
		Subprotocol string   `json:"subprotocol"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		return nil, &RejectError{StatusCode: http.StatusInternalServerError,
			Message: "the connect event handler answered with a body that is not a JSON object"}
	}
	res.UserID, res.Groups, res.Roles, res.Subprotocol = body.UserID, body.Groups, body.Roles, body.Subprotocol
	return res, nil
}

// decodeUserEventResult reads a user-event handler's answer. The reply's content type is one
// of text/plain, application/json and application/octet-stream (the default).
func decodeUserEventResult(r *response) (*UserEventResult, error) {
	res := &UserEventResult{State: stateOf(r.header)}
	if len(r.body) == 0 || r.status == http.StatusNoContent {
		return res, nil
	}
	res.Data = r.body
	res.ContentType = replyContentType(r.header.Get("Content-Type"))
	return res, nil
}

func replyContentType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt == "" {
		return webpubsub.ContentTypeBinary
	}
	switch {
	case mt == webpubsub.ContentTypeJSON || strings.HasSuffix(mt, "+json"):
		return webpubsub.ContentTypeJSON
	case strings.HasPrefix(mt, "text/"):
		return webpubsub.ContentTypeText
	}
	return webpubsub.ContentTypeBinary
}

// stateOf returns the ce-connectionState answer header: nil when absent, the value (maybe "")
// when present.
func stateOf(h http.Header) *string {
	vals, ok := h[http.CanonicalHeaderKey(webpubsub.HeaderConnectionState)]
	if !ok || len(vals) == 0 {
		return nil
	}
	v := vals[0]
	return &v
}
