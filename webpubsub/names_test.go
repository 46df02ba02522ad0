// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"strings"
	"testing"
)

func TestValidateHubName(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		hub     string
		wantErr string
	}{
		"a simple name is valid":                      {hub: "chat"},
		"all allowed punctuation is valid":            {hub: "a_b`c,d.e[f]g1"},
		"a 128 character name is valid":               {hub: "h" + strings.Repeat("x", 127)},
		"an empty name is rejected":                   {hub: "", wantErr: "empty"},
		"a 129 character name is rejected":            {hub: "h" + strings.Repeat("x", 128), wantErr: "limit is 128"},
		"a name starting with a digit is rejected":    {hub: "1chat", wantErr: "must start with a letter"},
		"a name starting with underscore is rejected": {hub: "_chat", wantErr: "must start with a letter"},
		"a name with a slash is rejected":             {hub: "chat/x", wantErr: "invalid"},
		"a name with a space is rejected":             {hub: "chat room", wantErr: "invalid"},
		"a name with a dash is rejected":              {hub: "chat-room", wantErr: "invalid"},
		"a name with non-ASCII letters is rejected":   {hub: "chät", wantErr: "invalid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, ValidateHubName(tc.hub), tc.wantErr)
		})
	}
}

func TestValidateGroupName(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		group   string
		wantErr string
	}{
		"a simple name is valid":                     {group: "room1"},
		"a name with inner spaces is valid":          {group: " my room "},
		"a 1024 character name is valid":             {group: strings.Repeat("g", 1024)},
		"1024 multi-byte characters are valid":       {group: strings.Repeat("é", 1024)},
		"an empty name is rejected":                  {group: "", wantErr: "empty"},
		"a whitespace-only name is rejected":         {group: " \t\n", wantErr: "whitespace"},
		"a 1025 character name is rejected":          {group: strings.Repeat("g", 1025), wantErr: "limit is 1024"},
		"a name that is not valid UTF-8 is rejected": {group: "a\xffb", wantErr: "UTF-8"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, ValidateGroupName(tc.group), tc.wantErr)
		})
	}
}

func TestValidateUserID(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		id      string
		wantErr string
	}{
		"a user id is valid":          {id: "alice"},
		"an empty user id is invalid": {id: "", wantErr: "empty"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkErr(t, ValidateUserID(tc.id), tc.wantErr)
		})
	}
}

// checkErr fails t unless err is nil when wantErr is empty, or contains wantErr otherwise.
func checkErr(t *testing.T, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("got no error, want one containing %q", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("error %q does not contain %q", err, wantErr)
	}
}
