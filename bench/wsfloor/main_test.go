// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestAcceptKeyMatchesTheRFCExample(t *testing.T) {
	// RFC 6455 §1.3.
	if got, want := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("acceptKey = %q; want %q", got, want)
	}
}

func TestTextFrameHeaders(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		header []byte
	}{
		{"a short payload has a 7-bit length", 100, []byte{0x81, 100}},
		{"125 bytes still fit the 7-bit length", 125, []byte{0x81, 125}},
		{"126 bytes take a 16-bit length", 126, []byte{0x81, 126, 0, 126}},
		{"64 KiB take a 64-bit length", 1 << 16, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bytes.Repeat([]byte("x"), tt.size)
			f := textFrame(p)
			if !bytes.HasPrefix(f, tt.header) || !bytes.Equal(f[len(tt.header):], p) {
				t.Fatalf("textFrame(%d bytes) starts % x; want header % x and the payload", tt.size, f[:min(len(f), 12)], tt.header)
			}
		})
	}
}

// The chat floor carries a client's event through the relay back to every client as a chat
// message in the layout bench/chat reads.
func TestChatFloorRelaysAClientEventToEveryClient(t *testing.T) {
	floorMux := http.NewServeMux()
	floor := httptest.NewServer(floorMux)
	defer floor.Close()
	relay := httptest.NewServer(newHandler("", floor.URL))
	defer relay.Close()
	floorMux.Handle("/", newHandler(relay.URL+"/eventhandler", ""))

	var clients []*websocket.Conn
	for _, id := range []string{"u1", "u2"} {
		resp, err := http.Get(floor.URL + "/negotiate?id=" + id)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			URL string `json:"url"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := websocket.DefaultDialer.Dial(body.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ws.Close() }()
		clients = append(clients, ws)
	}
	if err := clients[0].WriteJSON(map[string]string{"type": "event", "event": "message", "dataType": "text", "data": "bench 7"}); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message","from":"server","dataType":"json","data":{"from":"u1","message":"bench 7"}}`
	for i, ws := range clients {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil || string(data) != want {
			t.Fatalf("client %d read %q (%v), want %q", i, data, err, want)
		}
	}
}

func TestChatFloorRefusesURLsOffLoopback(t *testing.T) {
	for _, args := range [][2]string{{"http://192.0.2.1/eventhandler", ""}, {"", "https://127.0.0.1:1"}, {"http://127.0.0.1:1", "http://127.0.0.1:2"}} {
		if err := run("127.0.0.1:0", args[0], args[1]); err == nil {
			t.Errorf("run with --upstream %q --relay %q started", args[0], args[1])
		}
	}
}
