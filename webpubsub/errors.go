// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// ResponseError is a non-success HTTP response from the service (data plane or ARM).
type ResponseError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// ErrorCode is the x-ms-error-code header, or the body's code when the header is absent.
	ErrorCode string
	// Message is the body's message, when there is one.
	Message string
	// Method is the request method.
	Method string
	// Path is the request path without the query (which may carry tokens).
	Path string
}

// Error returns "<method> <path>: <status> [(<code>)][: <message>]".
func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "webpubsub: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, " (%s)", e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// IsNotFound reports whether err is, or wraps, a ResponseError with status 404.
func IsNotFound(err error) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// newResponseError builds a ResponseError from resp, reading (and bounding) its body. The
// data-plane body is {"code","message"}; the ARM body is {"error":{"code","message"}}.
// secrets are redacted from the message in case a server echoes them.
func newResponseError(resp *http.Response, secrets ...string) *ResponseError {
	e := &ResponseError{
		StatusCode: resp.StatusCode,
		ErrorCode:  resp.Header.Get(HeaderErrorCode),
	}
	if resp.Request != nil {
		e.Method = resp.Request.Method
		if resp.Request.URL != nil {
			e.Path = resp.Request.URL.Path
		}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	code, msg := parseErrorBody(body)
	if e.ErrorCode == "" {
		e.ErrorCode = code
	}
	e.ErrorCode = redact(cleanText(e.ErrorCode, 128), secrets)
	e.Message = redact(cleanText(msg, 1024), secrets)
	return e
}

// parseErrorBody extracts code and message from either error body shape, or returns the
// body as the message when it is short plain text.
func parseErrorBody(body []byte) (code, msg string) {
	if len(body) == 0 {
		return "", ""
	}
	var b struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Error   *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &b); err == nil {
		if b.Error != nil {
			return b.Error.Code, b.Error.Message
		}
		return b.Code, b.Message
	}
	if s := strings.TrimSpace(string(body)); len(s) <= 512 && !strings.HasPrefix(s, "<") {
		return "", s
	}
	return "", ""
}

// cleanText drops control characters and bounds the length.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return truncate(strings.TrimSpace(s), n)
}

func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}
