// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// A chat server mounts the event handler at /eventhandler: connect sets the user from the
// query, user events are broadcast (here: echoed back to the sender).
func ExampleNewEventHandler() {
	keys := func() []string { return []string{"example-access-key-0123456789abcdef"} }
	h, err := webpubsub.NewEventHandler(webpubsub.EventHandlerOptions{
		Hub:            "chat",
		AccessKeys:     keys,
		AllowedOrigins: []string{"my-service.webpubsub.azure.com"},
		Logger:         slog.New(slog.DiscardHandler),
		OnConnect: func(_ context.Context, req *webpubsub.ConnectRequest) (*webpubsub.ConnectResponse, error) {
			id := req.Query["id"]
			if len(id) == 0 {
				return nil, &webpubsub.EventError{StatusCode: http.StatusUnauthorized, Message: "missing id"}
			}
			return &webpubsub.ConnectResponse{UserID: id[0]}, nil
		},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			reply := fmt.Sprintf("[%s] %s", req.Context.UserID, req.Data)
			return &webpubsub.UserEventResponse{Data: []byte(reply), ContentType: webpubsub.ContentTypeText}, nil
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("/eventhandler", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What the service sends when alice says hello.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/eventhandler", strings.NewReader("hello"))
	req.Header.Set(webpubsub.HeaderSpecVersion, "1.0")
	req.Header.Set(webpubsub.HeaderType, webpubsub.EventTypeUserPrefix+"message")
	req.Header.Set(webpubsub.HeaderEventName, "message")
	req.Header.Set(webpubsub.HeaderHub, "chat")
	req.Header.Set(webpubsub.HeaderConnectionID, "conn-1")
	req.Header.Set(webpubsub.HeaderUserID, "alice")
	req.Header.Set(webpubsub.HeaderTime, time.Now().UTC().Format(time.RFC3339))
	req.Header.Set(webpubsub.HeaderSignature, webpubsub.SignatureHeader(keys(), "conn-1"))
	req.Header.Set("Content-Type", webpubsub.ContentTypeText)
	resp, err := srv.Client().Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), string(body))
	// Output: 200 text/plain [alice] hello
}
