// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chathub/chathub/webpubsub"
)

func TestDecodeInbound(t *testing.T) {
	tests := map[string]struct {
		frame string
		want  Inbound
	}{
		"joinGroup with an ack id": {`{"type":"joinGroup","group":"g","ackId":1}`,
			Inbound{Type: TypeJoinGroup, Group: "g", AckID: 1, HasAckID: true}},
		"leaveGroup without an ack id": {`{"type":"leaveGroup","group":"g"}`,
			Inbound{Type: TypeLeaveGroup, Group: "g"}},
		"sendToGroup with json data by default": {`{"type":"sendToGroup","group":"g","noEcho":true,"data":{"a":1}}`,
			Inbound{Type: TypeSendToGroup, Group: "g", NoEcho: true, ContentType: webpubsub.ContentTypeJSON, Data: []byte(`{"a":1}`)}},
		"sendToGroup with text data": {`{"type":"sendToGroup","group":"g","dataType":"text","data":"hi"}`,
			Inbound{Type: TypeSendToGroup, Group: "g", ContentType: webpubsub.ContentTypeText, Data: []byte("hi")}},
		"event with binary data": {`{"type":"event","event":"upload","dataType":"binary","data":"AAEC","ackId":7}`,
			Inbound{Type: TypeEvent, Event: "upload", ContentType: webpubsub.ContentTypeBinary, Data: []byte{0, 1, 2}, AckID: 7, HasAckID: true}},
		"sequenceAck": {`{"type":"sequenceAck","sequenceId":42}`, Inbound{Type: TypeSequenceAck, SequenceID: 42}},
		"ping":        {`{"type":"ping"}`, Inbound{Type: TypePing}},
		"text without data is empty": {`{"type":"event","event":"e","dataType":"text"}`,
			Inbound{Type: TypeEvent, Event: "e", ContentType: webpubsub.ContentTypeText, Data: []byte{}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeInbound([]byte(tc.frame))
			if err != nil {
				t.Fatalf("DecodeInbound: %v", err)
			}
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestDecodeInboundErrors(t *testing.T) {
	tests := map[string]struct {
		frame, want string
		ackID       bool
	}{
		"not JSON":                         {`hello`, "not a valid JSON object", false},
		"two objects":                      {`{"type":"ping"}{}`, "data after", false},
		"no type":                          {`{"ackId":1}`, "no type", true},
		"an unknown type keeps its ack id": {`{"type":"invoke","ackId":3}`, "unsupported message type", true},
		"joinGroup without a group":        {`{"type":"joinGroup","ackId":1}`, "needs a group", true},
		"a whitespace group":               {`{"type":"joinGroup","group":"  "}`, "whitespace", false},
		"an event without a name":          {`{"type":"event","data":1}`, "needs a name", false},
		"an event name with a space":       {`{"type":"event","event":"a b","data":1}`, "needs a name", false},
		"json data missing":                {`{"type":"sendToGroup","group":"g"}`, "json data is missing", false},
		"text data that is a number":       {`{"type":"sendToGroup","group":"g","dataType":"text","data":1}`, "JSON string", false},
		"binary data that is not base64":   {`{"type":"sendToGroup","group":"g","dataType":"binary","data":"!!"}`, "not valid base64", false},
		"an unknown dataType":              {`{"type":"sendToGroup","group":"g","dataType":"protobuf","data":""}`, "unsupported dataType", false},
		"a negative ack id":                {`{"type":"ping","ackId":-1}`, "not a valid JSON object", false},
		"sequenceAck without an id":        {`{"type":"sequenceAck"}`, "needs a sequenceId", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeInbound([]byte(tc.frame))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeInbound(%s) = %v, want an error containing %q", tc.frame, err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.HasAckID != tc.ackID {
				t.Fatalf("HasAckID = %v, want %v", de != nil && de.HasAckID, tc.ackID)
			}
		})
	}
}

func TestOutboundMessagesAreValidJSON(t *testing.T) {
	tests := map[string]struct {
		got  []byte
		want map[string]any
	}{
		"connected with a reconnection token": {Connected("u", "c", "tok"),
			map[string]any{"type": "system", "event": "connected", "userId": "u", "connectionId": "c", "reconnectionToken": "tok"}},
		"connected without a user": {Connected("", "c", ""),
			map[string]any{"type": "system", "event": "connected", "connectionId": "c"}},
		"disconnected": {Disconnected(`bye "now"`),
			map[string]any{"type": "system", "event": "disconnected", "message": `bye "now"`}},
		"a successful ack": {Ack(5, "", ""), map[string]any{"type": "ack", "ackId": 5.0, "success": true}},
		"a failed ack": {Ack(6, AckDuplicate, "used"),
			map[string]any{"type": "ack", "ackId": 6.0, "success": false, "error": map[string]any{"name": "Duplicate", "message": "used"}}},
		"pong": {Pong(), map[string]any{"type": "pong"}},
		"a json group message": {Message(FromGroup, "g", "u", webpubsub.ContentTypeJSON, []byte(`{"x":[1]}`)),
			map[string]any{"type": "message", "from": "group", "group": "g", "fromUserId": "u", "dataType": "json", "data": map[string]any{"x": []any{1.0}}}},
		"a text server message": {Message(FromServer, "", "", webpubsub.ContentTypeText, []byte("a\"<b>")),
			map[string]any{"type": "message", "from": "server", "dataType": "text", "data": "a\"<b>"}},
		"a binary server message": {Message(FromServer, "", "", webpubsub.ContentTypeBinary, []byte{0xff, 0}),
			map[string]any{"type": "message", "from": "server", "dataType": "binary", "data": "/wA="}},
		"a message with a sequence id": {WithSequenceID(Message(FromServer, "", "", webpubsub.ContentTypeText, []byte("x")), 9),
			map[string]any{"sequenceId": 9.0, "type": "message", "from": "server", "dataType": "text", "data": "x"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got map[string]any
			if err := json.Unmarshal(tc.got, &got); err != nil {
				t.Fatalf("%s is not JSON: %v", tc.got, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	tests := map[string]struct {
		subprotocol string
		want        Kind
	}{
		"no subprotocol is raw":         {"", KindRaw},
		"an unknown one is raw":         {"protobuf.webpubsub.azure.v1", KindRaw},
		"the JSON subprotocol":          {webpubsub.SubprotocolJSON, KindJSON},
		"the reliable JSON subprotocol": {webpubsub.SubprotocolJSONReliable, KindJSONReliable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := KindOf(tc.subprotocol); got != tc.want {
				t.Fatalf("KindOf(%q) = %v, want %v", tc.subprotocol, got, tc.want)
			}
			if tc.want != KindRaw && tc.want.String() != tc.subprotocol {
				t.Fatalf("String() = %q", tc.want.String())
			}
		})
	}
}

func FuzzClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"joinGroup","group":"g","ackId":1}`, `{"type":"sendToGroup","group":"g","dataType":"binary","data":"AA=="}`,
		`{"type":"event","event":"e","dataType":"text","data":"x"}`, `{"type":"sequenceAck","sequenceId":1}`,
		`{"type":"ping"}`, `{`, `[]`, `{"type":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		in, err := DecodeInbound(frame)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || err.Error() == "" {
				t.Fatalf("error %v is not a DecodeError with a message", err)
			}
			return
		}
		switch in.Type {
		case TypeJoinGroup, TypeLeaveGroup, TypeSendToGroup:
			if webpubsub.ValidateGroupName(in.Group) != nil {
				t.Fatalf("accepted invalid group %q", in.Group)
			}
		case TypeEvent:
			if !eventNamePattern.MatchString(in.Event) {
				t.Fatalf("accepted invalid event %q", in.Event)
			}
		case TypeSequenceAck, TypePing:
		default:
			t.Fatalf("accepted type %q", in.Type)
		}
		if in.Type == TypeSendToGroup || in.Type == TypeEvent {
			// Re-encoding the payload gives a valid JSON message.
			var v any
			if err := json.Unmarshal(Message(FromGroup, in.Group, "u", in.ContentType, in.Data), &v); err != nil {
				t.Fatalf("re-encoded message is not JSON: %v", err)
			}
		}
	})
}
