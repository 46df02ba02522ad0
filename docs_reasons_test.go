// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestDocReasons keeps the reasons table of docs/operator.md complete: every condition
// reason the API declares (api/v1/conditions.go, constants named Reason…) has a row
// "| `Reason` | …", except reasons marked Deprecated, which are never set.
func TestDocReasons(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "api/v1/conditions.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			doc := vs.Doc.Text()
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) || strings.Contains(doc, "Deprecated") {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				reasons = append(reasons, v)
			}
		}
	}
	if len(reasons) < 10 {
		t.Fatalf("found %d reasons in api/v1/conditions.go; the parser is broken", len(reasons))
	}
	b, err := os.ReadFile("docs/operator.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reasons {
		if !strings.Contains(string(b), "\n| `"+r+"` |") {
			t.Errorf("docs/operator.md has no row for condition reason %s", r)
		}
	}
}
