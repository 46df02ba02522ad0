// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command chartdoc writes a Helm chart's README.md from its README.md.gotmpl,
// Chart.yaml, values.yaml and values.schema.json: the template's text with a
// table of the values (key, type, default, description). The descriptions are
// the comments above each key in values.yaml; a key without one is an error,
// so every value the chart takes is documented. The types come from the
// schema (the YAML value's kind when the schema has none). An object whose
// schema lists its properties is a section: it has a row of its own and one
// per property; any other object (resources, podSecurityContext, ...) is one
// value.
//
// Usage: go run ./hack/chartdoc [-chart charts/chathub-operator]
//
// `make manifests` runs it (hack/make/cluster.mk, chart-manifests), so
// `make verify` fails when README.md is not regenerated.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

func main() {
	chart := flag.String("chart", "charts/chathub-operator", "folder of the chart")
	flag.Parse()
	out := filepath.Join(*chart, "README.md")
	b, err := Render(*chart)
	if err == nil {
		err = os.WriteFile(out, b, 0o644) //nolint:gosec // G306: a README, world-readable like every file of the repository
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartdoc:", err)
		os.Exit(1)
	}
	fmt.Println("chartdoc: wrote", out)
}

// Row is one value of the chart: its dotted key, type, default (YAML flow
// or JSON) and description.
type Row struct {
	Key, Type, Default, Description string
}

// Render builds the README of the chart in dir.
func Render(dir string) ([]byte, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name)) //nolint:gosec // G304: files of the chart the caller names
		if err != nil {
			return nil, fmt.Errorf("reading the chart: %w", err)
		}
		return b, nil
	}
	values, err := read("values.yaml")
	if err != nil {
		return nil, err
	}
	schema, err := read("values.schema.json")
	if err != nil {
		return nil, err
	}
	rows, err := Rows(values, schema)
	if err != nil {
		return nil, err
	}
	chartYAML, err := read("Chart.yaml")
	if err != nil {
		return nil, err
	}
	var meta struct {
		Name        string `yaml:"name"`
		Version     string `yaml:"version"`
		AppVersion  string `yaml:"appVersion"`
		Description string `yaml:"description"`
		KubeVersion string `yaml:"kubeVersion"`
	}
	if err := yaml.Unmarshal(chartYAML, &meta); err != nil {
		return nil, fmt.Errorf("parsing Chart.yaml: %w", err)
	}
	text, err := read("README.md.gotmpl")
	if err != nil {
		return nil, err
	}
	tpl, err := template.New("README.md.gotmpl").Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("parsing README.md.gotmpl: %w", err)
	}
	var buf bytes.Buffer
	err = tpl.Execute(&buf, map[string]any{
		"Name": meta.Name, "Version": meta.Version, "AppVersion": meta.AppVersion,
		"Description": meta.Description, "KubeVersion": meta.KubeVersion,
		"ValuesTable": Table(rows),
	})
	if err != nil {
		return nil, fmt.Errorf("executing README.md.gotmpl: %w", err)
	}
	return buf.Bytes(), nil
}

// Table is the Markdown table of rows.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, r := range rows {
		def := ""
		if r.Default != "" {
			def = "`" + cell(r.Default) + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Key, cell(r.Type), def, cell(r.Description))
	}
	return b.String()
}

// cell escapes the pipes of a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Rows lists the values of values.yaml in file order, described by their
// comments and typed by the JSON schema. A key without a comment is an
// error naming every such key and its line.
func Rows(valuesYAML, schemaJSON []byte) ([]Row, error) {
	var root schemaNode
	if err := json.Unmarshal(schemaJSON, &root); err != nil {
		return nil, fmt.Errorf("parsing values.schema.json: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(valuesYAML, &doc); err != nil {
		return nil, fmt.Errorf("parsing values.yaml: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("values.yaml is empty")
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("values.yaml is not a mapping")
	}
	w := walker{defs: root.Definitions}
	if err := w.mapping(doc.Content[0], "", &root); err != nil {
		return nil, err
	}
	if len(w.missing) > 0 {
		return nil, fmt.Errorf("values without a comment in values.yaml (write one above each key): %s", strings.Join(w.missing, ", "))
	}
	return w.rows, nil
}

// schemaNode is the part of a JSON schema chartdoc reads.
type schemaNode struct {
	Ref         string                 `json:"$ref"`
	Type        any                    `json:"type"`
	Properties  map[string]*schemaNode `json:"properties"`
	AnyOf       []*schemaNode          `json:"anyOf"`
	OneOf       []*schemaNode          `json:"oneOf"`
	Const       any                    `json:"const"`
	Definitions map[string]*schemaNode `json:"definitions"`
}

type walker struct {
	defs    map[string]*schemaNode
	rows    []Row
	missing []string
}

// resolve follows a local $ref (#/definitions/name).
func (w *walker) resolve(s *schemaNode) *schemaNode {
	for i := 0; s != nil && s.Ref != "" && i < 10; i++ {
		s = w.defs[strings.TrimPrefix(s.Ref, "#/definitions/")]
	}
	return s
}

// types lists the JSON types s allows, sorted, without duplicates.
func (w *walker) types(s *schemaNode) []string {
	s = w.resolve(s)
	if s == nil {
		return nil
	}
	var out []string
	switch t := s.Type.(type) {
	case string:
		out = append(out, t)
	case []any:
		for _, x := range t {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
	}
	for _, sub := range slices.Concat(s.AnyOf, s.OneOf) {
		if sub.Const != nil && len(w.types(sub)) == 0 {
			continue // an allowed constant ("" for unset) adds no type of its own
		}
		out = append(out, w.types(sub)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (w *walker) mapping(n *yaml.Node, prefix string, s *schemaNode) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		var sub *schemaNode
		if s != nil {
			sub = w.resolve(s.Properties[k.Value])
		}
		desc := comment(k.HeadComment)
		if desc == "" {
			desc = comment(k.LineComment + v.LineComment)
		}
		if desc == "" {
			w.missing = append(w.missing, fmt.Sprintf("%s (line %d)", key, k.Line))
		}
		typ := strings.Join(w.types(sub), " or ")
		if v.Kind == yaml.MappingNode && sub != nil && len(sub.Properties) > 0 {
			w.rows = append(w.rows, Row{Key: key, Type: "object", Description: desc})
			if err := w.mapping(v, key+".", sub); err != nil {
				return err
			}
			continue
		}
		if typ == "" {
			typ = kindOf(v)
		}
		def, err := defaultOf(v)
		if err != nil {
			return fmt.Errorf("values.yaml line %d (%s): %w", v.Line, key, err)
		}
		w.rows = append(w.rows, Row{Key: key, Type: typ, Default: def, Description: desc})
	}
	return nil
}

// comment joins the lines of a YAML comment into one sentence, without the
// leading "#".
func comment(c string) string {
	var words []string
	for _, line := range strings.Split(c, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if line != "" {
			words = append(words, line)
		}
	}
	return strings.Join(words, " ")
}

// kindOf is the JSON type of a YAML value that the schema does not type.
func kindOf(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "array"
	}
	switch v.Tag {
	case "!!int":
		return "integer"
	case "!!float":
		return "number"
	case "!!bool":
		return "boolean"
	case "!!null":
		return "null"
	}
	return "string"
}

// defaultOf is a value written as compact JSON.
func defaultOf(v *yaml.Node) (string, error) {
	var x any
	if err := v.Decode(&x); err != nil {
		return "", err
	}
	b, err := json.Marshal(x)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
