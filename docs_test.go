// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/internal/cli"
	"github.com/chathub/chathub/internal/envvar"
	"github.com/chathub/chathub/internal/pprofserver"
	"github.com/chathub/chathub/pubsub"
)

// flagTableDocs names, for each subcommand, the page holding its flag table.
var flagTableDocs = map[string]string{
	"manager":    "docs/operator.md",
	"chatserver": "docs/chatserver.md",
	"pubsub":     "docs/pubsub.md",
}

// commandEnv names, for each subcommand with a flag table, the
// environment variables it reads: every name of each (the CHATHUB_ one,
// the accepted and the deprecated ones) has a `$NAME` row in the table, and
// every `$NAME` row is one of them.
var commandEnv = map[string][]envvar.Var{
	"manager":    append(slices.Clone(managerEnvVars), cli.LogEnvVars...),
	"chatserver": append(slices.Concat(chatserver.EnvVars, cli.LogEnvVars), envvar.Var{Name: pprofserver.EnvListen}),
	"pubsub":     append(slices.Concat(pubsub.EnvVars, cli.LogEnvVars), envvar.Var{Name: pprofserver.EnvListen}),
}

// flaglessCommands are the subcommands without flags, hence without a flag table.
var flaglessCommands = map[string]bool{"version": true}

// flagTableHeader is the header row of a flag table. A page in flagTableDocs
// holds exactly one table with this header. Each row's first cell is one
// flag (`--name`) or one environment variable (`$NAME`, see commandEnv); the
// default cell is the default `chathub <command> --help` prints, in
// backticks (a duration in any spelling: `1h` for 1h0m0s), or "—" when it
// prints none (the flag's zero value, such as `false`, is accepted too).
const flagTableHeader = "| flag | default | meaning |"

// helpFlag is one flag as `--help` prints it.
type helpFlag struct {
	typ string // "" for a bool flag
	// def is the printed default; hasDef is false when --help prints none
	// (the flag's zero value).
	def    string
	hasDef bool
}

// docFlag is one row of a flag table.
type docFlag struct {
	def  string // the default cell, trimmed
	line int
}

// TestDocFlagTables checks the flag tables of docs/ against the flags the
// subcommands define: every flag `chathub <command> --help` prints is in its
// table with the same default, and every flag of the table exists; the same
// for the environment variables of commandEnv. Usage texts are not
// compared.
func TestDocFlagTables(t *testing.T) {
	for _, c := range commands {
		if _, ok := flagTableDocs[c.Name]; !ok && !flaglessCommands[c.Name] {
			t.Errorf("chathub %s has no flag table: add its page to flagTableDocs", c.Name)
		}
	}
	bin := buildChathub(t)
	for cmd, doc := range flagTableDocs {
		t.Run(cmd, func(t *testing.T) {
			help := helpFlags(t, bin, cmd)
			if len(help) == 0 {
				t.Fatalf("chathub %s --help printed no flags", cmd)
			}
			table, envRows := docFlagTable(t, doc)
			envNames := map[string]bool{}
			for _, v := range commandEnv[cmd] {
				for _, n := range append(append([]string{v.Name}, v.Accepted...), v.Deprecated...) {
					envNames[n] = true
					if _, ok := envRows[n]; !ok {
						t.Errorf("%s: $%s, read by chathub %s, is missing from the flag table", doc, n, cmd)
					}
				}
			}
			for n, line := range envRows {
				if !envNames[n] {
					t.Errorf("%s:%d: $%s is in the flag table but chathub %s does not read it", doc, line, n, cmd)
				}
			}
			for name, h := range help {
				d, ok := table[name]
				if !ok {
					t.Errorf("%s: flag --%s of chathub %s is missing from the flag table", doc, name, cmd)
					continue
				}
				if !defaultMatches(h, d.def) {
					t.Errorf("%s:%d: --%s has default %s, but chathub %s --help says %s",
						doc, d.line, name, d.def, cmd, wantCell(h))
				}
			}
			for name, d := range table {
				if _, ok := help[name]; !ok {
					t.Errorf("%s:%d: --%s is in the flag table but chathub %s has no such flag", doc, d.line, name, cmd)
				}
			}
		})
	}
}

// defaultMatches reports whether a table's default cell states h's default.
func defaultMatches(h helpFlag, cell string) bool {
	if h.hasDef && h.typ == "duration" {
		// 1h and 1h0m0s are the same default.
		want, err1 := time.ParseDuration(h.def)
		got, err2 := time.ParseDuration(strings.Trim(cell, "`"))
		return err1 == nil && err2 == nil && strings.HasPrefix(cell, "`") && strings.HasSuffix(cell, "`") && got == want
	}
	if h.hasDef {
		return cell == "`"+h.def+"`"
	}
	if cell == "—" {
		return true
	}
	switch h.typ {
	case "":
		return cell == "`false`"
	case "int", "uint", "int64", "uint64", "float":
		return cell == "`0`"
	case "duration":
		return cell == "`0s`"
	}
	return false
}

// wantCell is what the default cell of h should say, for messages.
func wantCell(h helpFlag) string {
	if h.hasDef {
		return "`" + h.def + "`"
	}
	return "no default (write —)"
}

// buildChathub builds the chathub binary into a temporary folder.
func buildChathub(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chathub")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput() //nolint:gosec // G204: bin is a path in the test's own temporary folder
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var (
	// helpFlagLine is the first line of a flag in the flag package's
	// PrintDefaults: two spaces, -name, and the type unless it is a bool.
	helpFlagLine = regexp.MustCompile(`^  -([A-Za-z0-9][-A-Za-z0-9_.]*)(?: (\S+))?$`)
	// helpQuotedDefault ends the usage of a string flag with a default.
	helpQuotedDefault = regexp.MustCompile(` \(default ("(?:[^"\\]|\\.)*")\)$`)
	// helpDefault ends the usage of any other flag with a default.
	helpDefault = regexp.MustCompile(` \(default ([^\s()"]+)\)$`)
)

// helpFlags runs `chathub <cmd> --help` and returns the flags it prints.
func helpFlags(t *testing.T, bin, cmd string) map[string]helpFlag {
	t.Helper()
	c := exec.CommandContext(t.Context(), bin, cmd, "--help") //nolint:gosec // G204: bin is the binary buildChathub just built, cmd a subcommand name
	// A clean environment, so that no variable changes a default, except
	// CHATHUB_IMAGE, the default of the manager's --default-chat-image: set
	// to its own name, --help prints that default as the table states it.
	c.Env = []string{"CHATHUB_IMAGE=$CHATHUB_IMAGE"}
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("chathub %s --help: %v\n%s", cmd, err, out)
	}
	return parseHelp(t, string(out))
}

// parseHelp reads the flags from the flag package's PrintDefaults output.
func parseHelp(t *testing.T, out string) map[string]helpFlag {
	t.Helper()
	flags := map[string]helpFlag{}
	name := ""
	var usage []string
	finish := func() {
		if name == "" {
			return
		}
		f := flags[name]
		last := strings.TrimSpace(usage[len(usage)-1])
		if m := helpQuotedDefault.FindStringSubmatch(last); m != nil && f.typ != "" {
			def, err := strconv.Unquote(m[1])
			if err != nil {
				t.Fatalf("--%s: default %s: %v", name, m[1], err)
			}
			f.def, f.hasDef = def, true
		} else if m := helpDefault.FindStringSubmatch(last); m != nil && f.typ != "string" {
			f.def, f.hasDef = m[1], true
		}
		flags[name] = f
		name, usage = "", nil
	}
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if m := helpFlagLine.FindStringSubmatch(line); m != nil {
			finish()
			name = m[1]
			if _, dup := flags[name]; dup {
				t.Fatalf("--help prints --%s twice", name)
			}
			flags[name] = helpFlag{typ: m[2]}
			usage = []string{""}
			continue
		}
		if name != "" && strings.HasPrefix(line, "    \t") {
			usage = append(usage, line)
		}
	}
	finish()
	return flags
}

// docFlagTable reads the one flag table of the page at path: its flags,
// and the line of each environment variable.
func docFlagTable(t *testing.T, path string) (flags map[string]docFlag, env map[string]int) {
	t.Helper()
	f, err := os.Open(path) //nolint:gosec // G304: path is a page of the repository's own docs
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	flags, env = map[string]docFlag{}, map[string]int{}
	tables, inTable, n := 0, false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == flagTableHeader {
			tables++
			inTable = true
			continue
		}
		if !inTable {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := tableCells(line)
		if len(cells) != 3 {
			t.Fatalf("%s:%d: a flag table row needs 3 cells, got %d", path, n, len(cells))
		}
		if strings.Trim(cells[0], "-: ") == "" {
			continue // the separator row
		}
		switch first := cells[0]; {
		case strings.HasPrefix(first, "`$") && strings.HasSuffix(first, "`") && !strings.ContainsAny(first[2:len(first)-1], "` ,"):
			name := first[2 : len(first)-1]
			if _, dup := env[name]; dup {
				t.Fatalf("%s:%d: $%s is in the flag table twice", path, n, name)
			}
			env[name] = n
		case strings.HasPrefix(first, "`--") && strings.HasSuffix(first, "`") && !strings.ContainsAny(first[3:len(first)-1], "` ,"):
			name := first[3 : len(first)-1]
			if _, dup := flags[name]; dup {
				t.Fatalf("%s:%d: --%s is in the flag table twice", path, n, name)
			}
			flags[name] = docFlag{def: cells[1], line: n}
		default:
			t.Fatalf("%s:%d: the first cell of a flag table row must be one `--flag` or `$VARIABLE`, got %s", path, n, first)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if tables != 1 {
		t.Fatalf("%s: want one flag table (header %q), found %d", path, flagTableHeader, tables)
	}
	return flags, env
}

// tableCells splits a markdown table row into trimmed cells. A | inside
// backticks or escaped as \| does not split.
func tableCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	var cells []string
	var cur strings.Builder
	code := false
	for i := 0; i < len(row); i++ {
		switch ch := row[i]; {
		case ch == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case ch == '`':
			code = !code
			cur.WriteByte(ch)
		case ch == '|' && !code:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// TestDocLinks checks that every relative link in README.md and docs/
// points at a file or folder of the repository.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	pages := []string{"README.md"}
	err = filepath.WalkDir("docs", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			pages = append(pages, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, page := range pages {
		for _, l := range markdownLinks(t, page) {
			links++
			if err := checkLink(root, page, l.target); err != nil {
				t.Errorf("%s:%d: link %q: %v", page, l.line, l.target, err)
			}
		}
	}
	if links == 0 {
		t.Fatal("found no relative links at all; the link parser is broken")
	}
}

// link is one relative link target of a page.
type link struct {
	target string
	line   int
}

var (
	// inlineLink matches [text](target) and ![alt](target).
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// refLink matches a reference definition: [label]: target.
	refLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	// codeSpan matches inline code, which holds no links.
	codeSpan = regexp.MustCompile("`+[^`]*`+")
	// scheme starts an absolute URL (http:, mailto:, ...).
	scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
)

// markdownLinks returns the relative link targets of a page, outside code.
func markdownLinks(t *testing.T, page string) []link {
	t.Helper()
	b, err := os.ReadFile(page) //nolint:gosec // G304: page is a markdown file of the repository
	if err != nil {
		t.Fatal(err)
	}
	var links []link
	fence := ""
	n := 0
	for line := range strings.Lines(string(b)) {
		n++
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		text := codeSpan.ReplaceAllString(line, "")
		var targets []string
		for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
			targets = append(targets, m[1])
		}
		if m := refLink.FindStringSubmatch(text); m != nil {
			targets = append(targets, m[1])
		}
		for _, tg := range targets {
			if scheme.MatchString(tg) {
				continue
			}
			links = append(links, link{target: tg, line: n})
		}
	}
	return links
}

// checkLink reports why target, linked from page, does not resolve to a
// file or folder inside root, or to a heading of a markdown page.
func checkLink(root, page, target string) error {
	path, anchor, _ := strings.Cut(target, "#")
	path, _, _ = strings.Cut(path, "?")
	if path == "" {
		return checkAnchor(filepath.Join(root, page), anchor)
	}
	if strings.HasPrefix(path, "/") {
		return fmt.Errorf("absolute paths do not work on GitHub; link relative to %s", filepath.Dir(page))
	}
	abs := filepath.Join(root, filepath.Dir(page), filepath.FromSlash(path))
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("points outside the repository")
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("no such file in the repository (%s)", filepath.ToSlash(rel))
	}
	if anchor != "" && strings.HasSuffix(abs, ".md") {
		return checkAnchor(abs, anchor)
	}
	return nil
}

// checkAnchor reports whether the markdown page at path has a heading whose
// GitHub anchor is anchor.
func checkAnchor(path, anchor string) error {
	b, err := os.ReadFile(path) //nolint:gosec // G304: path is a markdown page inside the repository (checkLink refuses links out of it)
	if err != nil {
		return err
	}
	if slices.Contains(headingAnchors(string(b)), anchor) {
		return nil
	}
	return fmt.Errorf("%s has no heading with anchor #%s", filepath.Base(path), anchor)
}

var (
	// headingLink is a link inside a heading; its text is kept.
	headingLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	// notInAnchor is what GitHub drops from a heading to make its anchor.
	notInAnchor = regexp.MustCompile(`[^\p{L}\p{N}\- _]`)
)

// headingAnchors returns the anchors GitHub gives the headings of a page:
// lower case, punctuation dropped, spaces as hyphens, -1, -2... on repeats.
func headingAnchors(page string) []string {
	var anchors []string
	seen := map[string]int{}
	fence := ""
	for line := range strings.Lines(page) {
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		level := len(line) - len(strings.TrimLeft(line, "#"))
		if level == 0 || level > 6 || !strings.HasPrefix(line[level:], " ") {
			continue
		}
		text := headingLink.ReplaceAllString(strings.TrimSpace(line[level:]), "$1")
		a := strings.ReplaceAll(notInAnchor.ReplaceAllString(strings.ToLower(text), ""), " ", "-")
		if n := seen[a]; n > 0 {
			anchors = append(anchors, fmt.Sprintf("%s-%d", a, n))
		} else {
			anchors = append(anchors, a)
		}
		seen[a]++
	}
	return anchors
}

// TestDocFlagTableParsers checks the two parsers the tests above rely on,
// on fixed input, so that a parser bug cannot make them pass vacuously.
func TestDocFlagTableParsers(t *testing.T) {
	help := parseHelp(t, `Usage of x:
  -a string
    	address (default http://<listen address>)
  -b string
    	name (default "chat")
  -c
    	switch (default true)
  -d duration
    	wait
    	on two lines (default 2s)
  -e
    	off
  -f string
    	key (default: $KEY, or generated)
`)
	want := map[string]helpFlag{
		"a": {typ: "string"},
		"b": {typ: "string", def: "chat", hasDef: true},
		"c": {def: "true", hasDef: true},
		"d": {typ: "duration", def: "2s", hasDef: true},
		"e": {},
		"f": {typ: "string"},
	}
	if fmt.Sprint(help) != fmt.Sprint(want) {
		t.Errorf("parseHelp:\n got %v\nwant %v", help, want)
	}
	cells := tableCells("| `--a` | `x\\|y` | one `a|b` two |")
	if wantCells := []string{"`--a`", "`x|y`", "one `a|b` two"}; !slices.Equal(cells, wantCells) {
		t.Errorf("tableCells = %q, want %q", cells, wantCells)
	}
	for cell, ok := range map[string]bool{"—": true, "`false`": true, "`true`": false, "": false} {
		if got := defaultMatches(helpFlag{}, cell); got != ok {
			t.Errorf("defaultMatches(bool without default, %q) = %v, want %v", cell, got, ok)
		}
	}
	anchors := headingAnchors("# The PubSub service (`chathub pubsub`)\n```\n# not a heading\n```\n## Running the manager\n## Results\n### Results\n#nope\n")
	if want := []string{"the-pubsub-service-chathub-pubsub", "running-the-manager", "results", "results-1"}; !slices.Equal(anchors, want) {
		t.Errorf("headingAnchors = %q, want %q", anchors, want)
	}
	hour := helpFlag{typ: "duration", def: "1h0m0s", hasDef: true}
	for cell, ok := range map[string]bool{"`1h`": true, "`60m`": true, "`1h0m0s`": true, "`2h`": false, "1h": false, "—": false} {
		if got := defaultMatches(hour, cell); got != ok {
			t.Errorf("defaultMatches(1h0m0s, %q) = %v, want %v", cell, got, ok)
		}
	}
}
