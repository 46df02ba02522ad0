// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package filter

import (
	"slices"
	"strings"
	"testing"
)

type subject struct {
	user, conn string
	groups     []string
}

func (s subject) UserID() string        { return s.user }
func (s subject) ConnectionID() string  { return s.conn }
func (s subject) InGroup(g string) bool { return slices.Contains(s.groups, g) }

func TestMatch(t *testing.T) {
	alice := subject{user: "alice", conn: "c1", groups: []string{"room", "it's"}}
	bob := subject{user: "bob", conn: "c2"}
	tests := map[string]struct {
		filter     string
		alice, bob bool
	}{
		"userId eq selects one user":                {"userId eq 'alice'", true, false},
		"userId ne excludes one user":               {"userId ne 'alice'", false, true},
		"connectionId eq selects one connection":    {"connectionId eq 'c2'", false, true},
		"in selects a list of users":                {"userId in ('alice', 'carol')", true, false},
		"connectionId in a list":                    {"connectionId in ('c1','c2')", true, true},
		"a group membership":                        {"'room' in groups", true, false},
		"a doubled quote escapes a quote":           {"'it''s' in groups", true, false},
		"not negates":                               {"not ('room' in groups)", false, true},
		"and needs both":                            {"userId eq 'alice' and 'room' in groups", true, false},
		"or needs either":                           {"userId eq 'bob' or 'room' in groups", true, true},
		"and binds tighter than or":                 {"userId eq 'bob' or userId eq 'alice' and 'nope' in groups", false, true},
		"parentheses override precedence":           {"(userId eq 'bob' or userId eq 'alice') and 'room' in groups", true, false},
		"not binds tighter than and":                {"not userId eq 'alice' and connectionId eq 'c2'", false, true},
		"whitespace around tokens is ignored":       {"  userId   eq   'bob'  ", false, true},
		"an empty string is a value like any other": {"userId eq ''", false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := Parse(tc.filter)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.filter, err)
			}
			if got := f.Match(alice); got != tc.alice {
				t.Errorf("alice: got %v, want %v", got, tc.alice)
			}
			if got := f.Match(bob); got != tc.bob {
				t.Errorf("bob: got %v, want %v", got, tc.bob)
			}
		})
	}
}

func TestNilExprMatchesEverything(t *testing.T) {
	var f *Expr
	if !f.Match(subject{}) {
		t.Fatal("a nil filter must match")
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		filter, want string
	}{
		"an empty filter":                    {"", "empty"},
		"a function":                         {"startswith(userId, 'a')", `unsupported function "startswith"`},
		"an ordering operator":               {"userId gt 'a'", `unsupported operator "gt"`},
		"an unknown property":                {"protocol eq 'json'", `unsupported property "protocol"`},
		"groups used as a value":             {"groups eq 'a'", "unsupported use of groups"},
		"an unclosed string":                 {"userId eq 'abc", "not closed"},
		"a missing closing parenthesis":      {"(userId eq 'a'", "expected ')'"},
		"trailing garbage":                   {"userId eq 'a' 'b'", "unexpected string 'b'"},
		"a number instead of a string":       {"userId eq 5", "expected a quoted string"},
		"a string not followed by in groups": {"'a' eq userId", "must be followed by 'in groups'"},
		"in on something else than groups":   {"'a' in users", "only 'in groups'"},
		"an empty in list":                   {"userId in ()", "expected a quoted string in the list"},
		"a dangling and":                     {"userId eq 'a' and", "ends where a condition was expected"},
		"an operator symbol":                 {"userId = 'a'", "expected an operator"},
		"too deep nesting":                   {strings.Repeat("(", 40) + "userId eq 'a'" + strings.Repeat(")", 40), "nests deeper"},
		"too many clauses":                   {strings.Repeat("userId eq 'a' or ", 100) + "userId eq 'a'", "more than 100 clauses"},
		"too long":                           {strings.Repeat(" ", MaxLength+1), "bytes long"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.filter)
			if err == nil {
				t.Fatalf("Parse(%.60q) succeeded, want an error containing %q", tc.filter, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%.60q) = %q, want it to contain %q", tc.filter, err, tc.want)
			}
		})
	}
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"userId eq 'a'", "'g' in groups and not (connectionId ne 'c')", "userId in ('a','b''c')",
		"((((", "'", "not not not", "userId eq 'a' or", "tolower(userId) eq 'a'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			if e != nil {
				t.Fatal("Parse returned an expression with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		// A parsed filter evaluates without panicking, the same way every time.
		for _, s := range []subject{{}, {user: "u", conn: "c", groups: []string{"g"}}} {
			first := e.Match(s)
			if again := e.Match(s); again != first {
				t.Fatalf("filter %q is not deterministic", src)
			}
		}
	})
}
