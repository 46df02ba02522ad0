// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"testing"

	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/pubsub/protocol"
)

// serviceFrame is the frame the service sends a JSON client for a chat message of the Go chat
// server, built with the service's and the chat server's own encoders.
func serviceFrame(t *testing.T, m chatserver.ChatMessage) []byte {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.Message(protocol.FromServer, "", "", "application/json", data)
}

func TestChatSeqReadsTheServiceFrames(t *testing.T) {
	for _, tc := range []struct {
		from, message string
		wantSeq       int
		wantOK        bool
	}{
		{"u0003", "bench 123", 123, true},
		{"u0000", "bench 0", 0, true},
		{"alice", "bench 007", 7, true},
		{`a"b`, "bench 5", 5, true},          // an escaped sender: decoded
		{"u0001", "bench 12 more", 0, false}, // not a bench message
		{"u0001", "bench -1", 0, false},
		{"u0001", "bench ", 0, false},
		{"u0001", "hello", 0, false},
		{"u0001", "bench 12345678901", 12345678901, true}, // more digits than the fast path takes
	} {
		b := serviceFrame(t, chatserver.ChatMessage{From: tc.from, Message: tc.message, Time: "2026-11-30T16:45:07.500Z", ConnectionID: "c1"})
		from, seq, ok := chatSeq(b)
		if ok != tc.wantOK || (ok && (from != tc.from || seq != tc.wantSeq)) {
			t.Errorf("chatSeq(%s) = %q, %d, %v; want %q, %d, %v", b, from, seq, ok, tc.from, tc.wantSeq, tc.wantOK)
		}
		df, ds, dok := decodeChatSeq(b)
		if df != from || ds != seq || dok != ok {
			t.Errorf("chatSeq(%s) = %q, %d, %v; the JSON decoder reads %q, %d, %v", b, from, seq, ok, df, ds, dok)
		}
	}
}

func TestChatSeqDecodesOtherLayouts(t *testing.T) {
	for _, tc := range []struct {
		frame, wantFrom string
		wantSeq         int
		wantOK          bool
	}{
		{`{"type":"message","from":"server","dataType":"json","data":{"message":"bench 9","from":"u0002"}}`, "u0002", 9, true},
		{`{"type":"message","from":"group","group":"g","dataType":"json","data":{"from":"u0002","message":"bench 4"}}`, "u0002", 4, true},
		{`{"type":"message","from":"server","dataType":"json","data":{"from":"u0002","message":"bench 4\u0022"}}`, "", 0, false},
		{`{"type":"system","event":"connected","userId":"u0002","connectionId":"c"}`, "", 0, false},
		{`{"type":"message","from":"server","dataType":"json","data":{"type":"system","message":"u0002 joined"}}`, "", 0, false},
		{`{"type":"message","from":"server","dataType":"json","data":{"from":"u0002","message":"bench 4"`, "", 0, false}, // cut short
		{`not json`, "", 0, false},
	} {
		from, seq, ok := chatSeq([]byte(tc.frame))
		if ok != tc.wantOK || from != tc.wantFrom || seq != tc.wantSeq {
			t.Errorf("chatSeq(%s) = %q, %d, %v; want %q, %d, %v", tc.frame, from, seq, ok, tc.wantFrom, tc.wantSeq, tc.wantOK)
		}
	}
}

func BenchmarkChatSeq(b *testing.B) {
	data, _ := json.Marshal(chatserver.ChatMessage{From: "u0003", Message: "bench 123", Time: "2026-11-30T16:45:07.500Z", ConnectionID: "mQtJM3dYDyOMLB9zfOzYPw"})
	frame := protocol.Message(protocol.FromServer, "", "", "application/json", data)
	b.Run("scan", func(b *testing.B) {
		for range b.N {
			chatSeq(frame)
		}
	})
	b.Run("decode", func(b *testing.B) {
		for range b.N {
			decodeChatSeq(frame)
		}
	})
}
