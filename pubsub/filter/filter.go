// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package filter parses and evaluates the subset of OData filter expressions the PubSub
// service supports in the REST data plane (protocol doc §2.3):
//
//	userId eq 'alice'            connectionId ne 'c1'
//	userId in ('a', 'b')         'room' in groups
//	not (...), and, or, parentheses, '' escapes a quote inside a string
//
// Anything else is rejected with an error naming what is not supported.
package filter

import (
	"errors"
	"fmt"
	"slices"
)

// Limits that keep hostile filters cheap.
const (
	MaxLength  = 8 << 10
	MaxClauses = 100
	MaxDepth   = 32
)

// Subject is what a filter is evaluated against: one connection.
type Subject interface {
	UserID() string
	ConnectionID() string
	InGroup(group string) bool
}

// Expr is a parsed filter. The zero value is not valid; use Parse.
type Expr struct{ root node }

// Match reports whether s satisfies the filter. A nil *Expr matches everything.
func (e *Expr) Match(s Subject) bool {
	if e == nil {
		return true
	}
	return e.root.eval(s)
}

// Parse parses a filter expression. Errors say what is wrong or unsupported and where.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxLength {
		return nil, fmt.Errorf("filter is %d bytes long, the limit is %d", len(src), MaxLength)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tokEOF {
		return nil, errors.New("filter is empty")
	}
	n, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %s at position %d", t, t.pos)
	}
	return &Expr{root: n}, nil
}

type node interface{ eval(Subject) bool }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// field is userId or connectionId.
type field uint8

const (
	fieldUserID field = iota
	fieldConnectionID
)

func (f field) value(s Subject) string {
	if f == fieldUserID {
		return s.UserID()
	}
	return s.ConnectionID()
}

type cmpNode struct {
	f      field
	values []string
	negate bool // ne
}
type groupNode struct{ group string }

func (n andNode) eval(s Subject) bool { return n.l.eval(s) && n.r.eval(s) }
func (n orNode) eval(s Subject) bool  { return n.l.eval(s) || n.r.eval(s) }
func (n notNode) eval(s Subject) bool { return !n.x.eval(s) }
func (n cmpNode) eval(s Subject) bool {
	return slices.Contains(n.values, n.f.value(s)) != n.negate
}
func (n groupNode) eval(s Subject) bool { return s.InGroup(n.group) }
