// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build chart

package chart

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/pubsub"
)

// dashboardFile is the Grafana dashboard the chart's ConfigMap holds.
func dashboardFile() string {
	return filepath.Join(repoRoot, "charts", "chathub-operator", "dashboards", "chathub.json")
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// TestDashboard parses the dashboard, checks it has the panels the chart
// promises, each with a query, and that every metric its PromQL names is
// registered by the code: the chat server, the PubSub service, the build
// info, and controller-runtime's reconcile metrics.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile())
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("the dashboard has title %q and uid %q, want both", d.Title, d.UID)
	}
	known := registeredMetrics(t)
	exprs := map[string][]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs[p.Title] = append(exprs[p.Title], tg.Expr)
		}
	}
	for _, title := range []string{"Connections", "Messages/s", "Delivery latency", "Upstream failures", "Reconcile errors", "NATS hop", "NATS lag"} {
		if len(exprs[title]) == 0 {
			t.Errorf("the dashboard has no panel %q with a query (panels: %v)", title, mapsKeys(exprs))
		}
		for _, e := range exprs[title] {
			if len(metricRefs(e)) == 0 {
				t.Errorf("panel %q: query %q names no ChatHub or controller-runtime metric", title, e)
			}
		}
	}
	for title, es := range exprs {
		for _, e := range es {
			if missing := unknownMetrics(e, known); len(missing) > 0 {
				t.Errorf("panel %q: query %q names metrics the code does not register: %v", title, e, missing)
			}
		}
	}
	for _, v := range d.Templating.List {
		if missing := unknownMetrics(v.Definition, known); len(missing) > 0 {
			t.Errorf("variable %q: %q names metrics the code does not register: %v", v.Name, v.Definition, missing)
		}
	}

	// The check itself can fail.
	if missing := unknownMetrics(`sum(rate(chathub_chatserver_no_such_thing_total[5m]))`, known); len(missing) != 1 {
		t.Errorf("an unknown metric was not reported: %v", missing)
	}
}

// TestMetricScanMatchesARealScrape checks registeredMetrics against real
// /metrics pages: a PubSub service and a chat server in this process. Every
// ChatHub metric family they serve must be among the scanned names, with
// histograms known as such, so the scan computes full names right.
func TestMetricScanMatchesARealScrape(t *testing.T) {
	known := registeredMetrics(t)
	svc, err := pubsub.New(pubsub.Config{
		Endpoint:   &url.URL{Scheme: "http", Host: "127.0.0.1:1"},
		AccessKeys: []string{"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"},
	})
	if err != nil {
		t.Fatalf("pubsub.New: %v", err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(t.Context()) })
	cfg := chatserver.DefaultConfig()
	cfg.ConnectionString = svc.ConnectionString()
	chat, err := chatserver.New(cfg, chatserver.Options{})
	if err != nil {
		t.Fatalf("chatserver.New: %v", err)
	}
	// A refused /negotiate fills the labelled families of the chat server.
	chat.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/negotiate", nil))

	checked := 0
	for name, h := range map[string]http.Handler{"the PubSub service": svc.Handler(), "the chat server": chat.MetricsHandler()} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /metrics of %s: %d", name, rec.Code)
		}
		sc := bufio.NewScanner(rec.Body)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" || !strings.HasPrefix(f[2], "chathub_") {
				continue
			}
			checked++
			if !known[f[2]] {
				t.Errorf("%s serves %s, which the scan of the code did not find", name, f[2])
			}
			if hist := f[3] == "histogram" || f[3] == "summary"; hist != known[f[2]+"#histogram"] {
				t.Errorf("%s serves %s as a %s; the scan disagrees", name, f[2], f[3])
			}
		}
	}
	t.Logf("%d ChatHub metric families served and found by the scan", checked)
	if checked < 5 {
		t.Errorf("only %d ChatHub metric families served; the scrape is not what the test expects", checked)
	}
}

// metricRe matches the metric names of ChatHub and controller-runtime in
// PromQL.
var metricRe = regexp.MustCompile(`\b(?:chathub|controller_runtime)_[a-zA-Z0-9_]+`)

// metricRefs lists the metric names expr uses.
func metricRefs(expr string) []string { return metricRe.FindAllString(expr, -1) }

// unknownMetrics lists the metric names of expr that are not in known (a
// histogram's series, name_bucket, _sum and _count, count as its name).
func unknownMetrics(expr string, known map[string]bool) []string {
	var out []string
	for _, m := range metricRefs(expr) {
		if known[m] {
			continue
		}
		base := m
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suffix); ok && known[b+"#histogram"] {
				base = ""
			}
		}
		if base != "" {
			out = append(out, m)
		}
	}
	return out
}

// registeredMetrics reads the metric names the code registers: the
// prometheus.*Opts literals (Namespace, Subsystem, Name, from strings or
// constants of the same file) of the chat server, the PubSub service, the
// build info and controller-runtime's controller metrics. A histogram's
// name is also recorded as name#histogram.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/controller-runtime")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("finding controller-runtime's source: %v", err)
	}
	dirs := []string{
		filepath.Join(repoRoot, "chatserver"),
		filepath.Join(repoRoot, "pubsub"),
		filepath.Join(repoRoot, "internal", "version"),
		filepath.Join(strings.TrimSpace(string(out)), "pkg", "internal", "controller", "metrics"),
	}
	known := map[string]bool{}
	for _, dir := range dirs {
		found := 0
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			for name, hist := range optsNames(t, path) {
				known[name] = true
				if hist {
					known[name+"#histogram"] = true
				}
				found++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if found == 0 {
			t.Fatalf("no metric found in %s: the scan of prometheus.*Opts no longer matches the code", dir)
		}
	}
	return known
}

// optsNames returns the full names of the metrics the prometheus.*Opts
// literals of one Go file declare, true for histograms and summaries.
func optsNames(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if g, ok := n.(*ast.GenDecl); ok && g.Tok == token.CONST {
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
		return true
	})
	str := func(e ast.Expr) string {
		switch v := e.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(v.Value)
			return s
		case *ast.Ident:
			return consts[v.Name]
		}
		return ""
	}
	out := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		sel, ok := lit.Type.(*ast.SelectorExpr)
		if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "prometheus" {
			return true
		}
		fields := map[string]string{}
		for _, e := range lit.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.Ident); ok {
					fields[k.Name] = str(kv.Value)
				}
			}
		}
		if fields["Name"] != "" {
			name := prometheus.BuildFQName(fields["Namespace"], fields["Subsystem"], fields["Name"])
			out[name] = slices.Contains([]string{"HistogramOpts", "SummaryOpts"}, sel.Sel.Name)
		}
		return true
	})
	return out
}

// mapsKeys lists the keys of m, sorted.
func mapsKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
