// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// troubleshootingPage holds one entry per condition reason.
const troubleshootingPage = "docs/troubleshooting.md"

// troubleshootingParts are the parts every entry of troubleshootingPage has.
var troubleshootingParts = []string{"**What it means.**", "**What to do.**", "**How to see it.**"}

// TestDocReasons keeps the reason docs complete: every condition reason the
// API declares (api/v1/conditions.go, constants named Reason…) has a row
// "| `Reason` | …" in docs/operator.md and an entry "### `Reason`" in
// docs/troubleshooting.md saying what it means, what to do and how to see
// it, except reasons marked Deprecated, which are never set.
func TestDocReasons(t *testing.T) {
	reasons, _ := conditionReasons(t)
	b, err := os.ReadFile("docs/operator.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		if !strings.Contains(string(b), "\n| `"+r+"` |") {
			t.Errorf("docs/operator.md has no row for condition reason %s", r)
		}
	}
	page, err := os.ReadFile(troubleshootingPage)
	if err != nil {
		t.Fatal(err)
	}
	entries := reasonEntries(string(page))
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		body, ok := entries[r]
		if !ok {
			t.Errorf("%s has no entry \"### `%s`\" for condition reason %s", troubleshootingPage, r, r)
			continue
		}
		for _, part := range troubleshootingParts {
			if !strings.Contains(body, part) {
				t.Errorf("%s: the entry of %s lacks %s", troubleshootingPage, r, part)
			}
		}
	}
	for r := range entries {
		if _, ok := reasons[r]; !ok {
			t.Errorf("%s has an entry for %s, which api/v1/conditions.go does not declare (or marks Deprecated)", troubleshootingPage, r)
		}
	}
}

// TestControllersSetDeclaredReasons checks that the controllers set reasons
// only through the constants TestDocReasons documents: no string literal as
// a reason, and no deprecated reason.
func TestControllersSetDeclaredReasons(t *testing.T) {
	reasons, deprecated := conditionReasons(t)
	files, err := filepath.Glob("controllers/*.go")
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		for _, p := range reasonUses(t, file) {
			switch {
			case p.literal != "":
				t.Errorf("%s: reason %s is a string literal; declare it in api/v1/conditions.go and document it", p.pos, p.literal)
			case deprecated[p.constant]:
				t.Errorf("%s: %s is deprecated and must not be set", p.pos, p.constant)
			case !slices.Contains(slices.Collect(maps.Values(reasons)), p.constant):
				t.Errorf("%s: %s is not a reason constant of api/v1/conditions.go", p.pos, p.constant)
			default:
				used++
			}
		}
	}
	if used < 20 {
		t.Fatalf("found %d uses of reason constants in controllers/; the parser is broken", used)
	}
}

// conditionReasons returns the reasons api/v1/conditions.go declares, value
// → constant name, and the names of the deprecated ones.
func conditionReasons(t *testing.T) (map[string]string, map[string]bool) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "api/v1/conditions.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	reasons, deprecated := map[string]string{}, map[string]bool{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") || i >= len(vs.Values) {
					continue
				}
				if strings.Contains(vs.Doc.Text(), "Deprecated") {
					deprecated[name.Name] = true
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
				reasons[v] = name.Name
			}
		}
	}
	if len(reasons) < 10 {
		t.Fatalf("found %d reasons in api/v1/conditions.go; the parser is broken", len(reasons))
	}
	return reasons, deprecated
}

// reasonUse is one reason a controller sets: a constant of package chatv1
// (its name) or a string literal (its text).
type reasonUse struct {
	pos      string
	constant string
	literal  string
}

// reasonUses finds the reasons file sets: every chatv1.Reason… it names,
// and every string literal given to a field or argument named reason.
func reasonUses(t *testing.T, file string) []reasonUse {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var uses []reasonUse
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && id.Name == "chatv1" && strings.HasPrefix(n.Sel.Name, "Reason") {
				uses = append(uses, reasonUse{pos: fset.Position(n.Pos()).String(), constant: n.Sel.Name})
			}
		case *ast.KeyValueExpr:
			key, ok := n.Key.(*ast.Ident)
			lit, isLit := n.Value.(*ast.BasicLit)
			if ok && isLit && strings.EqualFold(key.Name, "reason") && lit.Kind == token.STRING {
				uses = append(uses, reasonUse{pos: fset.Position(n.Pos()).String(), literal: lit.Value})
			}
		}
		return true
	})
	return uses
}

// reasonEntries returns the entries "### `Reason`" of a page: reason → the
// text up to the next heading.
func reasonEntries(page string) map[string]string {
	entries := map[string]string{}
	current := ""
	var body strings.Builder
	flush := func() {
		if current != "" {
			entries[current] = body.String()
		}
		current = ""
		body.Reset()
	}
	fence := ""
	for line := range strings.Lines(page) {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence != "" && strings.HasPrefix(trimmed, fence):
			fence = ""
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
		}
		if fence == "" && strings.HasPrefix(line, "#") {
			flush()
			if r, ok := strings.CutPrefix(strings.TrimSpace(line), "### `"); ok && strings.HasSuffix(r, "`") {
				current = strings.TrimSuffix(r, "`")
			}
			continue
		}
		body.WriteString(line)
	}
	flush()
	return entries
}

// TestDocReasonParsers checks reasonEntries and reasonUses on fixed input,
// so that a parser bug cannot make the tests above pass vacuously.
func TestDocReasonParsers(t *testing.T) {
	entries := reasonEntries("# T\n### `A`\none\n```sh\n# not a heading\n```\ntwo\n## Group\n### `B`\nthree\n### Other\nfour\n")
	if len(entries) != 2 || entries["A"] != "one\n```sh\n# not a heading\n```\ntwo\n" || entries["B"] != "three\n" {
		t.Errorf("reasonEntries = %q", entries)
	}
	file := filepath.Join(t.TempDir(), "x.go")
	src := "package x\nvar a = p{reason: chatv1.ReasonReady}\nvar b = p{Reason: \"Oops\"}\nvar c = q{name: \"n\"}\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	uses := reasonUses(t, file)
	if len(uses) != 2 || uses[0].constant != "ReasonReady" || uses[1].literal != `"Oops"` {
		t.Errorf("reasonUses = %+v", uses)
	}
}
