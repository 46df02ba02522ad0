// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/chathub/chathub"

// onlyImports bounds what the non-test files of some packages may import from the module,
// beyond the layer order: the transport knows nothing of REST, permissions, tokens or hub
// settings.
var onlyImports = map[string][]string{
	"pubsub/transport": {"pubsub/hub", "pubsub/protocol", "internal/tokenbucket", "internal/epoll"},
}

// docLayers reads the layer list of doc.go: the lines "pkg, pkg: description" of its code
// block, top layer first. It returns each package's layer (0 is the top).
func docLayers(t *testing.T) map[string]int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]int{}
	n := 0
	for _, line := range strings.Split(f.Doc.Text(), "\n") {
		if !strings.HasPrefix(line, "\t") {
			continue
		}
		names, _, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			t.Fatalf("doc.go: layer line %q has no ':' after its packages", line)
		}
		for _, name := range strings.Split(names, ",") {
			layers[strings.TrimSpace(name)] = n
		}
		n++
	}
	if n < 3 {
		t.Fatalf("doc.go lists %d layers, want the whole list", n)
	}
	return layers
}

// packageImports returns the module imports of every package under pubsub/ (keyed by its
// path in the module, e.g. "pubsub/hub"), from all its files, whatever their build
// constraints, including in-package tests (which compile into the package); an import is
// true when a non-test file has it. External test packages (package x_test) sit on top of
// everything and are not checked.
func packageImports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	pkgs := map[string]map[string]bool{}
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if strings.HasSuffix(f.Name.Name, "_test") {
			return nil
		}
		pkg := path.Join("pubsub", filepath.ToSlash(filepath.Dir(p)))
		if pkgs[pkg] == nil {
			pkgs[pkg] = map[string]bool{}
		}
		prod := !strings.HasSuffix(p, "_test.go")
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			name, ok := strings.CutPrefix(ip, modulePath+"/")
			if ip == modulePath {
				name, ok = "cmd", true
			}
			if ok {
				pkgs[pkg][name] = pkgs[pkg][name] || prod
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func TestPackagesImportOnlyLayersBelowTheirOwn(t *testing.T) {
	layers := docLayers(t)
	pkgs := packageImports(t)
	if pkgs["pubsub"]["pubsub/transport"] != true || pkgs["pubsub/transport"]["pubsub/hub"] != true {
		t.Fatalf("the imports read are %v, want at least pubsub → pubsub/transport → pubsub/hub", pkgs)
	}
	for pkg, imports := range pkgs {
		own, ok := layers[pkg]
		if !ok {
			t.Errorf("package %s is not in the layer list of pubsub/doc.go", pkg)
			continue
		}
		for imp := range imports {
			switch l, ok := layers[imp]; {
			case !ok:
				t.Errorf("%s imports %s, which is not in the layer list of pubsub/doc.go", pkg, imp)
			case l <= own:
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only layers below its own", pkg, own, imp, l)
			}
		}
		if allowed, ok := onlyImports[pkg]; ok {
			for imp, prod := range imports {
				if prod && !slices.Contains(allowed, imp) {
					t.Errorf("%s imports %s; of the module it may import only %v", pkg, imp, allowed)
				}
			}
		}
	}
}
