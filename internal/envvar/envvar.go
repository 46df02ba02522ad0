// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package envvar names the environment variables of the chathub commands:
// each has one name under the CHATHUB_ prefix and may still be read under
// older names, so that deployments written for them keep working. It
// imports nothing of the project, so every configuration package can use
// it.
package envvar

import "strings"

// Prefix starts the name of every environment variable ChatHub defines.
const Prefix = "CHATHUB_"

// Var is one environment variable of a command.
type Var struct {
	// Name is the variable's name, under Prefix.
	Name string
	// Accepted are other names read when Name is unset, in order, without
	// a warning (such as the tutorial's WebPubSubConnectionString).
	Accepted []string
	// Deprecated are older names read when Name and Accepted are unset,
	// in order; Deprecations reports their use.
	Deprecated []string
	// Usage says what the variable holds, for the documentation.
	Usage string
}

// names returns every name of v, in the order Lookup tries them.
func (v Var) names() []string {
	return append(append([]string{v.Name}, v.Accepted...), v.Deprecated...)
}

// Lookup returns the value of the first name of v that getenv gives a
// non-blank value for, as given, and that name; both are empty when none
// is set.
func (v Var) Lookup(getenv func(string) string) (value, from string) {
	for _, n := range v.names() {
		if s := getenv(n); strings.TrimSpace(s) != "" {
			return s, n
		}
	}
	return "", ""
}

// Deprecation is the use of a deprecated name: Used was read, Name should
// be set instead.
type Deprecation struct {
	Used, Name string
}

// Deprecations returns, for each variable of vars whose value comes from a
// deprecated name, which name was used; the commands log one warning for
// each (never the value).
func Deprecations(getenv func(string) string, vars ...Var) []Deprecation {
	var out []Deprecation
	for _, v := range vars {
		_, from := v.Lookup(getenv)
		for _, d := range v.Deprecated {
			if from == d {
				out = append(out, Deprecation{Used: d, Name: v.Name})
			}
		}
	}
	return out
}
