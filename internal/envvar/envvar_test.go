// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package envvar

import (
	"reflect"
	"testing"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	v := Var{Name: "CHATHUB_X", Accepted: []string{"TutorialX"}, Deprecated: []string{"OLD_X"}}
	tests := map[string]struct {
		env             map[string]string
		wantValue, from string
		wantDeprecated  []Deprecation
	}{
		"unset":                        {env: nil},
		"the name":                     {env: map[string]string{"CHATHUB_X": " a "}, wantValue: " a ", from: "CHATHUB_X"},
		"the name wins over the rest":  {env: map[string]string{"CHATHUB_X": "a", "TutorialX": "b", "OLD_X": "c"}, wantValue: "a", from: "CHATHUB_X"},
		"an accepted name, no warning": {env: map[string]string{"TutorialX": "b", "OLD_X": "c"}, wantValue: "b", from: "TutorialX"},
		"a deprecated name, a warning": {env: map[string]string{"OLD_X": "c"}, wantValue: "c", from: "OLD_X",
			wantDeprecated: []Deprecation{{Used: "OLD_X", Name: "CHATHUB_X"}}},
		"blank is unset": {env: map[string]string{"CHATHUB_X": "  ", "OLD_X": "c"}, wantValue: "c", from: "OLD_X",
			wantDeprecated: []Deprecation{{Used: "OLD_X", Name: "CHATHUB_X"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) string { return tc.env[k] }
			value, from := v.Lookup(getenv)
			if value != tc.wantValue || from != tc.from {
				t.Errorf("Lookup = %q from %q, want %q from %q", value, from, tc.wantValue, tc.from)
			}
			if got := Deprecations(getenv, v); !reflect.DeepEqual(got, tc.wantDeprecated) {
				t.Errorf("Deprecations = %v, want %v", got, tc.wantDeprecated)
			}
		})
	}
}
