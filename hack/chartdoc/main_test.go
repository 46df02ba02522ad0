// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const chartDir = "../../charts/chathub-operator"

// TestChartValuesAreDocumented renders the real chart's README: it fails
// when a value of values.yaml has no comment, and when README.md is not
// what chartdoc writes (run 'make manifests').
func TestChartValuesAreDocumented(t *testing.T) {
	got, err := Render(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatalf("the chart has no README.md (run 'make manifests'): %v", err)
	}
	if diff := cmp.Diff(string(have), string(got)); diff != "" {
		t.Errorf("charts/chathub-operator/README.md is out of date; run 'make manifests' (-have +want):\n%s", diff)
	}
	for _, key := range []string{"`crds.keep`", "`podDisruptionBudget.minAvailable`", "`metrics.podMonitor.enabled`", "`extraEnv`"} {
		if !strings.Contains(string(got), "| "+key+" |") {
			t.Errorf("the values table has no row %s", key)
		}
	}
}

const testSchema = `{
  "definitions": {
    "stringMap": {"type": "object", "additionalProperties": {"type": "string"}},
    "intOrPercent": {"oneOf": [{"type": "integer"}, {"type": "string"}]}
  },
  "properties": {
    "image": {"type": "object", "properties": {"tag": {"type": "string"}, "pullPolicy": {"type": "string"}}},
    "labels": {"$ref": "#/definitions/stringMap"},
    "budget": {"anyOf": [{"$ref": "#/definitions/intOrPercent"}, {"const": ""}]},
    "resources": {"type": "object"}
  }
}`

func TestRows(t *testing.T) {
	values := `# Top of the file, not about a key.

# image of the operator.
image:
  # tag of the image;
  # empty: appVersion.
  tag: ""
  pullPolicy: IfNotPresent # pullPolicy of the container.
# labels of the pod.
labels: {a: "1"}
# budget of the pods.
budget: 1
# resources of the container, one value (its schema lists no properties).
resources:
  limits: {memory: 1Gi}
# untyped is typed from its YAML value.
untyped: [1, 2]
`
	got, err := Rows([]byte(values), []byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Key: "image", Type: "object", Description: "image of the operator."},
		{Key: "image.tag", Type: "string", Default: `""`, Description: "tag of the image; empty: appVersion."},
		{Key: "image.pullPolicy", Type: "string", Default: `"IfNotPresent"`, Description: "pullPolicy of the container."},
		{Key: "labels", Type: "object", Default: `{"a":"1"}`, Description: "labels of the pod."},
		{Key: "budget", Type: "integer or string", Default: "1", Description: "budget of the pods."},
		{Key: "resources", Type: "object", Default: `{"limits":{"memory":"1Gi"}}`, Description: "resources of the container, one value (its schema lists no properties)."},
		{Key: "untyped", Type: "array", Default: "[1,2]", Description: "untyped is typed from its YAML value."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	table := Table([]Row{{Key: "a", Type: "string", Default: `"x|y"`, Description: "one | two"}})
	if !strings.Contains(table, "| `a` | string | `\"x\\|y\"` | one \\| two |") {
		t.Errorf("the table does not escape pipes:\n%s", table)
	}
}

// TestRowsRejectsValuesWithoutAComment: every undocumented key is named,
// nested ones with their full path and line.
func TestRowsRejectsValuesWithoutAComment(t *testing.T) {
	values := `# image of the operator.
image:
  tag: ""
  # pullPolicy of the container.
  pullPolicy: IfNotPresent
labels: {}
`
	_, err := Rows([]byte(values), []byte(testSchema))
	if err == nil {
		t.Fatal("values without comments were accepted")
	}
	for _, want := range []string{"image.tag (line 3)", "labels (line 6)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "pullPolicy") {
		t.Errorf("error %q names the documented pullPolicy", err)
	}
}

func TestRowsRejectsBadInput(t *testing.T) {
	tests := map[string]struct{ values, schema string }{
		"values that are not YAML":  {values: "a: [", schema: testSchema},
		"values that are a list":    {values: "- a\n", schema: testSchema},
		"empty values":              {values: "", schema: testSchema},
		"a schema that is not JSON": {values: "# a.\na: 1\n", schema: "{"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Rows([]byte(tc.values), []byte(tc.schema)); err == nil {
				t.Error("accepted")
			}
		})
	}
}
