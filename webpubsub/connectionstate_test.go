// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeConnectionState(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := map[string]struct {
		header  string
		want    map[string]any
		wantErr string
	}{
		"an empty header means no states": {
			header: "",
		},
		"a JSON object of mixed values decodes": {
			header: b64(`{"user":{"name":"alice"},"n":3,"tags":["a","b"],"on":true,"none":null}`),
			want:   map[string]any{"user": map[string]any{"name": "alice"}, "n": json.Number("3"), "tags": []any{"a", "b"}, "on": true, "none": nil},
		},
		"unpadded base64 decodes": {
			header: base64.RawStdEncoding.EncodeToString([]byte(`{"k":"v1"}`)),
			want:   map[string]any{"k": "v1"},
		},
		"the empty object decodes to no entries": {
			header: b64(`{}`),
			want:   map[string]any{},
		},
		"an object surrounded by whitespace decodes": {
			header: b64(" \n{\"k\":1}\n "),
			want:   map[string]any{"k": json.Number("1")},
		},
		"text that is not base64 is an error": {
			header:  "%%%",
			wantErr: "it is not valid base64",
		},
		"URL-safe base64 is an error": {
			header:  base64.URLEncoding.EncodeToString([]byte(`{"k":"??>>"}`)),
			wantErr: "it is not valid base64",
		},
		"base64 of plain text is an error": {
			header:  b64("hello"),
			wantErr: "it is not the base64 of a JSON object",
		},
		"base64 of a JSON string is an error": {
			header:  b64(`"state"`),
			wantErr: "it is not the base64 of a JSON object",
		},
		"base64 of null is an error": {
			header:  b64(`null`),
			wantErr: "it is not the base64 of a JSON object",
		},
		"base64 of an empty string is an error": {
			header:  "IA==", // " "
			wantErr: "it is not the base64 of a JSON object",
		},
		"base64 of a truncated object is an error": {
			header:  b64(`{"k":`),
			wantErr: "it is not the base64 of a valid JSON object",
		},
		"base64 of an object followed by garbage is an error": {
			header:  b64(`{"k":1} {}`),
			wantErr: "it is not the base64 of a valid JSON object",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeConnectionState(tc.header)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeConnectionState: %v", err)
			}
			if tc.want == nil {
				if got != nil {
					t.Fatalf("states = %v, want nil", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, plainStates(t, got)); diff != "" {
				t.Fatalf("states (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConnectionContextStates(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		start       map[string]json.RawMessage
		change      func(*ConnectionContext) error
		wantChanged bool
		wantHeader  string // decoded JSON of the encoded states
		wantErr     string
	}{
		"no change leaves the states unchanged": {
			start:      map[string]json.RawMessage{"a": json.RawMessage(`1`)},
			change:     func(*ConnectionContext) error { return nil },
			wantHeader: `{"a":1}`,
		},
		"SetState on no states creates them": {
			change:      func(c *ConnectionContext) error { return c.SetState("k", "v") },
			wantChanged: true,
			wantHeader:  `{"k":"v"}`,
		},
		"SetState replaces a value and keeps the others": {
			start:       map[string]json.RawMessage{"a": json.RawMessage(`1`), "b": json.RawMessage(`2`)},
			change:      func(c *ConnectionContext) error { return c.SetState("a", map[string]int{"x": 9}) },
			wantChanged: true,
			wantHeader:  `{"a":{"x":9},"b":2}`,
		},
		"SetState stores raw JSON as is": {
			change:      func(c *ConnectionContext) error { return c.SetState("raw", json.RawMessage(`[1, 2]`)) },
			wantChanged: true,
			wantHeader:  `{"raw":[1,2]}`,
		},
		"SetState refuses a value JSON cannot encode": {
			start:      map[string]json.RawMessage{"a": json.RawMessage(`1`)},
			change:     func(c *ConnectionContext) error { return c.SetState("f", func() {}) },
			wantHeader: `{"a":1}`,
			wantErr:    `encoding connection state "f"`,
		},
		"ClearStates empties the states": {
			start:       map[string]json.RawMessage{"a": json.RawMessage(`1`)},
			change:      func(c *ConnectionContext) error { c.ClearStates(); return nil },
			wantChanged: true,
			wantHeader:  `{}`,
		},
		"SetState after ClearStates keeps only the new value": {
			start: map[string]json.RawMessage{"a": json.RawMessage(`1`)},
			change: func(c *ConnectionContext) error {
				c.ClearStates()
				return c.SetState("b", true)
			},
			wantChanged: true,
			wantHeader:  `{"b":true}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := &ConnectionContext{States: tc.start}
			err := tc.change(c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("change: %v", err)
			}
			if c.statesChanged != tc.wantChanged {
				t.Errorf("changed = %v, want %v", c.statesChanged, tc.wantChanged)
			}
			header, err := encodeConnectionState(c.States)
			if err != nil {
				t.Fatalf("encodeConnectionState: %v", err)
			}
			raw, err := base64.StdEncoding.DecodeString(header)
			if err != nil {
				t.Fatalf("header %q is not base64: %v", header, err)
			}
			if string(raw) != tc.wantHeader {
				t.Errorf("encoded states = %s, want %s", raw, tc.wantHeader)
			}
		})
	}
}

func TestEncodeConnectionStateNamesTheInvalidKeyWithoutItsValue(t *testing.T) {
	t.Parallel()
	_, err := encodeConnectionState(map[string]json.RawMessage{"ok": json.RawMessage(`1`), "bad": json.RawMessage(`{secret`)})
	if err == nil {
		t.Fatal("encodeConnectionState accepted invalid JSON")
	}
	if !strings.Contains(err.Error(), `"bad"`) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("error = %q, want it to name the key and not quote the value", err)
	}
}

// FuzzConnectionState decodes arbitrary ce-connectionState values: decoding never panics, and
// whatever decodes survives an encode/decode round trip unchanged.
func FuzzConnectionState(f *testing.F) {
	for _, s := range []string{
		"", "e30=", "e30", "eyJhIjoxfQ==", "bnVsbA==", "WzEsMl0=", "%%%", "eyJhIjo=",
		base64.StdEncoding.EncodeToString([]byte(`{"user":{"name":"alice","rooms":["lobby"]},"n":1.5e3,"s":"\u00e9\ud83d\ude00"}`)),
		base64.StdEncoding.EncodeToString([]byte("{\"k\":\"\xff\xfe\"}")),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		states, err := decodeConnectionState(header)
		if err != nil {
			if header == "" {
				t.Fatal("the empty header was refused")
			}
			return
		}
		encoded, err := encodeConnectionState(states)
		if err != nil {
			t.Fatalf("decoded states do not encode: %v", err)
		}
		again, err := decodeConnectionState(encoded)
		if err != nil {
			t.Fatalf("encoded states %q do not decode: %v", encoded, err)
		}
		if diff := cmp.Diff(plainStates(t, states), plainStates(t, again)); diff != "" {
			t.Fatalf("round trip changed the states (-first +second):\n%s", diff)
		}
	})
}

// plainStates decodes each state value into plain Go values for comparison.
func plainStates(t *testing.T, states map[string]json.RawMessage) map[string]any {
	t.Helper()
	if states == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(states))
	for k, v := range states {
		// Numbers stay text: values such as 1e400 are valid JSON but overflow float64.
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		var x any
		if err := d.Decode(&x); err != nil {
			t.Fatalf("state %q is not JSON: %v", k, err)
		}
		out[k] = x
	}
	return out
}
