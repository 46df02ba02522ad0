// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chathub/chathub/webpubsub"
)

// FuzzEventHeaders sends arbitrary CloudEvents header values and bodies through the handler.
// It must never panic, must answer only 2xx or 4xx, must answer 2xx to a POST only when the
// signature is valid, and any ce-connectionState it returns must decode.
//
// When validSignature is set the ce-signature header is computed for the fuzzed connection id,
// so the fuzzer reaches the parsing behind the signature check; otherwise the fuzzed signature
// is sent as is.
func FuzzEventHeaders(f *testing.F) {
	state := base64.StdEncoding.EncodeToString([]byte(`{"n":1,"user":{"name":"alice"}}`))
	f.Add(false, true, "1.0", webpubsub.EventTypeConnect, "conn1", "chat", "connect", "", "", "", "2026-11-27T17:00:00Z",
		"application/json", ehOrigin, "", []byte(`{"claims":{"sub":["alice"]},"subprotocols":["json.webpubsub.azure.v1"]}`))
	f.Add(false, true, "1.0", webpubsub.EventTypeUserPrefix+"message", "conn1", "CHAT", "message", "alice", "json.webpubsub.azure.v1",
		state, "", "text/plain; charset=utf-8", ehOrigin, "", []byte("hello"))
	f.Add(false, true, "1.0", webpubsub.EventTypeDisconnected, "c", "chat", "disconnected", "", "", "e30", "", "", "", "", []byte(`{"reason":"x"}`))
	f.Add(false, true, "1.0", webpubsub.EventTypeConnected, "c", "chat", "connected", "", "", "%%%", "yesterday", "", "", "", []byte(nil))
	f.Add(false, false, "1.0", webpubsub.EventTypeConnect, "c", "chat", "connect", "", "", "", "", "", "", "sha256=00", []byte(`{`))
	f.Add(false, true, "0.3", "azure.webpubsub.sys.other", "", "other", "", "", "", "", "", "image/png", "", "", []byte{0xff})
	f.Add(true, false, "", "", "", "", "", "", "", "", "", "", "a.example.com, "+ehOrigin, "", []byte(nil))
	f.Add(true, false, "", "", "", "", "", "", "", "", "", "", "evil.example.com", "", []byte(nil))

	h, err := webpubsub.NewEventHandler(webpubsub.EventHandlerOptions{
		Hub:            ehHub,
		AccessKeys:     func() []string { return []string{ehKey1, ehKey2} },
		AllowedOrigins: []string{ehOrigin},
		MaxBodyBytes:   4096,
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			if err := req.Context.SetState("claims", len(req.Claims)); err != nil {
				return nil, err
			}
			resp := &webpubsub.ConnectResponse{UserID: req.Context.UserID}
			if len(req.Subprotocols) > 0 {
				resp.Subprotocol = req.Subprotocols[0]
			}
			return resp, nil
		},
		OnConnected:    func(context.Context, *webpubsub.ConnectedRequest) {},
		OnDisconnected: func(context.Context, *webpubsub.DisconnectedRequest) {},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			if len(req.Data)%2 == 1 {
				req.Context.ClearStates()
			} else if err := req.Context.SetState("last", req.ContentType); err != nil {
				return nil, err
			}
			return &webpubsub.UserEventResponse{Data: req.Data, ContentType: req.ContentType}, nil
		},
	})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, options, validSignature bool, specVersion, ceType, connID, hub, eventName, userID,
		subprotocol, connState, ceTime, contentType, origin, signature string, body []byte) {
		method := http.MethodPost
		if options {
			method = http.MethodOptions
		}
		req := httptest.NewRequest(method, "/eventhandler", bytes.NewReader(body))
		if validSignature {
			signature = webpubsub.SignatureHeader([]string{ehKey2}, connID)
		}
		for name, v := range map[string]string{
			webpubsub.HeaderSpecVersion: specVersion, webpubsub.HeaderType: ceType,
			webpubsub.HeaderConnectionID: connID, webpubsub.HeaderHub: hub, webpubsub.HeaderEventName: eventName,
			webpubsub.HeaderUserID: userID, webpubsub.HeaderSubprotocol: subprotocol,
			webpubsub.HeaderConnectionState: connState, webpubsub.HeaderTime: ceTime, "Content-Type": contentType,
			webpubsub.HeaderRequestOrigin: origin, webpubsub.HeaderSignature: signature,
		} {
			if v != "" {
				req.Header.Set(name, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		status := rec.Code
		if status < 200 || status >= 500 || (status >= 300 && status < 400) {
			t.Fatalf("%s answered %d %q, want 2xx or 4xx", method, status, rec.Body.String())
		}
		if status >= 300 {
			return
		}
		if options {
			if rec.Header().Get(webpubsub.HeaderAllowedOrigin) == "" {
				t.Fatal("abuse protection answered 2xx without WebHook-Allowed-Origin")
			}
			return
		}
		if !webpubsub.VerifySignature(signature, connID, []string{ehKey1, ehKey2}) {
			t.Fatalf("answered %d to a request with an invalid signature", status)
		}
		if v := rec.Header().Get(webpubsub.HeaderConnectionState); v != "" {
			raw, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatalf("ce-connectionState %q is not base64: %v", v, err)
			}
			var states map[string]json.RawMessage
			if err := json.Unmarshal(raw, &states); err != nil {
				t.Fatalf("ce-connectionState %q is not a JSON object: %v", raw, err)
			}
		}
	})
}
