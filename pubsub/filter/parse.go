// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package filter

import (
	"errors"
	"fmt"
	"strings"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokLParen
	tokRParen
	tokComma
	tokOther
)

type token struct {
	kind tokKind
	text string // identifier or unescaped string
	pos  int    // 1-based byte offset
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of filter"
	case tokString:
		return fmt.Sprintf("string '%s'", clip(t.text))
	case tokLParen:
		return "'('"
	case tokRParen:
		return "')'"
	case tokComma:
		return "','"
	}
	return fmt.Sprintf("%q", clip(t.text))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func isIdentByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		return true
	case c >= '0' && c <= '9', c == '.', c == '/':
		return !first
	}
	return false
}

func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{kind: tokLParen, pos: i + 1})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokRParen, pos: i + 1})
			i++
		case c == ',':
			toks = append(toks, token{kind: tokComma, pos: i + 1})
			i++
		case c == '\'':
			start := i
			var sb strings.Builder
			i++
			closed := false
			for i < len(src) {
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						sb.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				sb.WriteByte(src[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("string starting at position %d is not closed with '", start+1)
			}
			toks = append(toks, token{kind: tokString, text: sb.String(), pos: start + 1})
		case isIdentByte(c, true):
			start := i
			for i < len(src) && isIdentByte(src[i], false) {
				i++
			}
			toks = append(toks, token{kind: tokIdent, text: src[start:i], pos: start + 1})
		default:
			start := i
			for i < len(src) && !strings.ContainsRune(" \t\r\n()',", rune(src[i])) && !isIdentByte(src[i], true) {
				i++
			}
			if i == start {
				i++
			}
			toks = append(toks, token{kind: tokOther, text: src[start:i], pos: start + 1})
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(src) + 1}), nil
}

type parser struct {
	toks    []token
	i       int
	clauses int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

func (p *parser) keyword(word string) bool {
	t := p.peek()
	if t.kind == tokIdent && t.text == word {
		p.i++
		return true
	}
	return false
}

func (p *parser) parseOr(depth int) (node, error) {
	l, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) parseAnd(depth int) (node, error) {
	l, err := p.parseUnary(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.parseUnary(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) parseUnary(depth int) (node, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("filter nests deeper than %d levels", MaxDepth)
	}
	if p.keyword("not") {
		x, err := p.parseUnary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	if p.peek().kind == tokLParen {
		p.next()
		x, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tokRParen {
			return nil, fmt.Errorf("expected ')' at position %d, found %s", t.pos, t)
		}
		return x, nil
	}
	return p.parseClause()
}

// parseClause parses `field eq|ne 'v'`, `field in ('a', ...)` or `'g' in groups`.
func (p *parser) parseClause() (node, error) {
	p.clauses++
	if p.clauses > MaxClauses {
		return nil, fmt.Errorf("filter has more than %d clauses", MaxClauses)
	}
	t := p.next()
	switch t.kind {
	case tokString:
		if !p.keyword("in") {
			n := p.peek()
			return nil, fmt.Errorf("unsupported expression at position %d: a string must be followed by 'in groups', found %s", n.pos, n)
		}
		if g := p.next(); g.kind != tokIdent || g.text != "groups" {
			return nil, fmt.Errorf("unsupported expression at position %d: only 'in groups' may follow a string, found %s", g.pos, g)
		}
		return groupNode{group: t.text}, nil
	case tokIdent:
		var f field
		switch t.text {
		case "userId":
			f = fieldUserID
		case "connectionId":
			f = fieldConnectionID
		case "groups":
			return nil, fmt.Errorf("unsupported use of groups at position %d: write '<group>' in groups", t.pos)
		default:
			if isFunction(t.text) {
				return nil, fmt.Errorf("unsupported function %q at position %d: only eq, ne and in on userId and connectionId, and '<group>' in groups are supported", t.text, t.pos)
			}
			return nil, fmt.Errorf("unsupported property %q at position %d: only userId, connectionId and groups are supported", clip(t.text), t.pos)
		}
		op := p.next()
		if op.kind != tokIdent {
			return nil, fmt.Errorf("expected an operator (eq, ne or in) at position %d, found %s", op.pos, op)
		}
		switch op.text {
		case "eq", "ne":
			v := p.next()
			if v.kind != tokString {
				return nil, fmt.Errorf("expected a quoted string at position %d, found %s", v.pos, v)
			}
			return cmpNode{f: f, values: []string{v.text}, negate: op.text == "ne"}, nil
		case "in":
			vals, err := p.parseList()
			if err != nil {
				return nil, err
			}
			return cmpNode{f: f, values: vals}, nil
		case "gt", "ge", "lt", "le", "has":
			return nil, fmt.Errorf("unsupported operator %q at position %d: only eq, ne and in are supported", op.text, op.pos)
		}
		return nil, fmt.Errorf("unsupported operator %s at position %d: only eq, ne and in are supported", op, op.pos)
	case tokEOF:
		return nil, errors.New("filter ends where a condition was expected")
	}
	return nil, fmt.Errorf("unsupported expression at position %d: unexpected %s", t.pos, t)
}

func (p *parser) parseList() ([]string, error) {
	if t := p.next(); t.kind != tokLParen {
		return nil, fmt.Errorf("expected '(' after in at position %d, found %s", t.pos, t)
	}
	var vals []string
	for {
		v := p.next()
		if v.kind != tokString {
			return nil, fmt.Errorf("expected a quoted string in the list at position %d, found %s", v.pos, v)
		}
		vals = append(vals, v.text)
		sep := p.next()
		if sep.kind == tokRParen {
			return vals, nil
		}
		if sep.kind != tokComma {
			return nil, fmt.Errorf("expected ',' or ')' at position %d, found %s", sep.pos, sep)
		}
	}
}

func isFunction(name string) bool {
	switch strings.ToLower(name) {
	case "tolower", "toupper", "trim", "substring", "endswith", "startswith", "indexof", "length", "contains", "concat":
		return true
	}
	return false
}
