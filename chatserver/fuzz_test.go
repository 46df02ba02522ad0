// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/chathub/chathub/webpubsub"
)

// FuzzValidateUserID checks that every accepted id is one the page and the
// token can carry: valid UTF-8, 1 to 64 characters, no control characters.
func FuzzValidateUserID(f *testing.F) {
	for _, s := range []string{"alice", "", "a\nb", strings.Repeat("é", 65), "\xff", " ", "<img>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if validateUserID(id) != nil {
			return
		}
		if !utf8.ValidString(id) || id == "" || utf8.RuneCountInString(id) > MaxUserIDChars {
			t.Fatalf("accepted %q", id)
		}
		for _, r := range id {
			if unicode.IsControl(r) {
				t.Fatalf("accepted %q with a control character", id)
			}
		}
	})
}

// FuzzMessageText checks that a message is either refused with a code and a
// sentence, or accepted as non-empty UTF-8 text within the limit.
func FuzzMessageText(f *testing.F) {
	f.Add("text/plain", []byte("hi"))
	f.Add("application/json", []byte(`"hi"`))
	f.Add("application/json", []byte(`{"a":1}`))
	f.Add("application/octet-stream", []byte{0, 1})
	f.Add("text/plain; charset=utf-8", []byte(strings.Repeat("x", MaxMessageChars+1)))
	f.Fuzz(func(t *testing.T, contentType string, data []byte) {
		text, code, why := messageText(&webpubsub.UserEventRequest{ContentType: contentType, Data: data})
		if code != "" {
			if why == "" || text != "" {
				t.Fatalf("refusal %q without a sentence or with text", code)
			}
			return
		}
		if !utf8.ValidString(text) || strings.TrimSpace(text) == "" || utf8.RuneCountInString(text) > MaxMessageChars {
			t.Fatalf("accepted %q", text)
		}
	})
}
