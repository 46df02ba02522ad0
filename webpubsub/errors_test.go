// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestNewResponseError(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		status  int
		header  string
		body    string
		secret  string
		want    ResponseError
		wantMsg string
	}{
		"the header code and body message are used": {
			status: 404, header: "Error.Connection.NotExisted", body: `{"code":"NotFound","message":"Connection c1 does not exist.","target":"Connection"}`,
			want:    ResponseError{StatusCode: 404, ErrorCode: "Error.Connection.NotExisted", Message: "Connection c1 does not exist.", Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1"},
			wantMsg: "webpubsub: PUT /api/hubs/chat/groups/g/connections/c1: 404 Not Found (Error.Connection.NotExisted): Connection c1 does not exist.",
		},
		"the body code is used without a header": {
			status: 400, body: `{"code":"InvalidFilter","message":"bad filter"}`,
			want: ResponseError{StatusCode: 400, ErrorCode: "InvalidFilter", Message: "bad filter", Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1"},
		},
		"the ARM error body shape is understood": {
			status: 409, body: `{"error":{"code":"Conflict","message":"busy"}}`,
			want: ResponseError{StatusCode: 409, ErrorCode: "Conflict", Message: "busy", Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1"},
		},
		"a plain text body becomes the message": {
			status: 401, body: "Unauthorized\n",
			want: ResponseError{StatusCode: 401, Message: "Unauthorized", Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1"},
		},
		"an HTML body is dropped": {
			status: 502, body: "<html>bad gateway</html>",
			want: ResponseError{StatusCode: 502, Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1"},
		},
		"an echoed secret is redacted": {
			status: 401, body: `{"code":"Unauthorized","message":"token s3cr3t-token is bad"}`, secret: "s3cr3t-token",
			want: ResponseError{StatusCode: 401, ErrorCode: "Unauthorized", Message: "token *** is bad", Method: "PUT", Path: "/api/hubs/chat/groups/g/connections/c1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u, _ := url.Parse("https://x/api/hubs/chat/groups/g/connections/c1?api-version=2024-12-01&access_token=zzz")
			resp := &http.Response{
				StatusCode: tc.status,
				Header:     http.Header{},
				Body:       io.NopCloser(strings.NewReader(tc.body)),
				Request:    &http.Request{Method: "PUT", URL: u},
			}
			if tc.header != "" {
				resp.Header.Set(HeaderErrorCode, tc.header)
			}
			got := newResponseError(resp, tc.secret)
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
			if tc.wantMsg != "" && got.Error() != tc.wantMsg {
				t.Errorf("Error() = %q, want %q", got.Error(), tc.wantMsg)
			}
			if strings.Contains(got.Error(), "zzz") || strings.Contains(got.Error(), "api-version") {
				t.Errorf("Error() %q contains the query", got.Error())
			}
		})
	}
}

func TestIsNotFound(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err  error
		want bool
	}{
		"a 404 is not found":         {err: &ResponseError{StatusCode: 404}, want: true},
		"a wrapped 404 is not found": {err: fmt.Errorf("getting hub: %w", &ResponseError{StatusCode: 404}), want: true},
		"a 400 is not not found":     {err: &ResponseError{StatusCode: 400}},
		"another error is not found": {err: errors.New("404")},
		"nil is not not found":       {err: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := IsNotFound(tc.err); got != tc.want {
				t.Errorf("IsNotFound = %v, want %v", got, tc.want)
			}
		})
	}
}
