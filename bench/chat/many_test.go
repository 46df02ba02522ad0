// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// stepUp runs a stepper against a server that holds every rate up to limit and returns
// the rates it tried.
func stepUp(start, maxRate, refine, limit int) (tried []int, best int) {
	s := newStepper(start, maxRate, refine)
	for r := s.rate(); r > 0; r = s.rate() {
		tried = append(tried, r)
		s.report(r <= limit)
		if len(tried) > 100 {
			break
		}
	}
	return tried, s.best
}

func TestStepperDoublesThenBisects(t *testing.T) {
	tried, best := stepUp(100, 12800, 2, 700)
	if want := []int{100, 200, 400, 800, 600, 700}; !slices.Equal(tried, want) {
		t.Errorf("tried %v; want %v", tried, want)
	}
	if best != 700 {
		t.Errorf("best %d; want 700", best)
	}
}

func TestStepperStopsAtTheMaximum(t *testing.T) {
	tried, best := stepUp(100, 300, 2, 1_000_000)
	if want := []int{100, 200, 300}; !slices.Equal(tried, want) || best != 300 {
		t.Errorf("tried %v, best %d; want %v, 300", tried, best, want)
	}
}

func TestStepperHalvesWhenTheStartFails(t *testing.T) {
	tried, best := stepUp(100, 12800, 1, 30)
	if want := []int{100, 50, 25, 37}; !slices.Equal(tried, want) || best != 25 {
		t.Errorf("tried %v, best %d; want %v, 25", tried, best, want)
	}
}

func TestStepperGivesUpWhenNothingHolds(t *testing.T) {
	tried, best := stepUp(4, 100, 2, 0)
	if want := []int{4, 2, 1}; !slices.Equal(tried, want) || best != 0 {
		t.Errorf("tried %v, best %d; want %v, 0", tried, best, want)
	}
}

func TestStepperWithoutRefinement(t *testing.T) {
	tried, best := stepUp(100, 12800, 0, 500)
	if want := []int{100, 200, 400, 800}; !slices.Equal(tried, want) || best != 400 {
		t.Errorf("tried %v, best %d; want %v, 400", tried, best, want)
	}
}

func TestStepHolds(t *testing.T) {
	bound := 50 * time.Millisecond
	tests := []struct {
		name string
		r    messageResult
		want bool
	}{
		{"fast and complete", messageResult{sent: 10, p99: 49 * time.Millisecond}, true},
		{"p99 on the bound", messageResult{sent: 10, p99: bound}, false},
		{"one delivery lost", messageResult{sent: 10, lost: 1, p99: time.Millisecond}, false},
		{"nothing sent", messageResult{}, false},
	}
	for _, tt := range tests {
		if got := stepHolds(tt.r, bound); got != tt.want {
			t.Errorf("%s: stepHolds = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestFormatManyShowsTheBestRatesAndTheRatio(t *testing.T) {
	o := manyOptions{users: 100, senders: 20, start: 100, refine: 2, step: 5 * time.Second, p99: 50 * time.Millisecond}
	goRes := manyResult{steps: []manyStep{
		{rate: 100, ok: true, res: messageResult{p99: 5 * time.Millisecond, sustained: 99}},
		{rate: 200, ok: false, res: messageResult{p99: 80 * time.Millisecond, lost: 3}},
	}}
	goRes.best = &goRes.steps[0]
	nodeRes := manyResult{steps: []manyStep{{rate: 50, ok: true, res: messageResult{p99: 9 * time.Millisecond}}}}
	nodeRes.best = &nodeRes.steps[0]
	out := formatMany(o, []string{"Go", "Node"}, []manyResult{goRes, nodeRes})
	for _, want := range []string{"| highest rate held (msg/s offered) | 100 | 50 |", "200: 80.00 ms, 3", "Go sustains 2.0× the rate of Node"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	out = formatMany(o, []string{"Go", "Node"}, []manyResult{goRes, {}})
	if !strings.Contains(out, "none held") || !strings.Contains(out, "no ratio") {
		t.Errorf("a server without a rate that held is not shown as such:\n%s", out)
	}
}

func TestParseOptionsScenariosAndManyBounds(t *testing.T) {
	o, err := parseOptions([]string{"-scenarios", "many", "-many-users", "10", "-many-senders", "5"})
	if err != nil || !slices.Equal(o.scenarios, []string{"many"}) || o.many.users != 10 || o.many.p99 != 50*time.Millisecond {
		t.Fatalf("parseOptions = %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-scenarios", "many,bogus"},
		{"-many-senders", "200"},
		{"-many-start", "0"},
		{"-many-step", "100ms"},
	} {
		if _, err := parseOptions(args); err == nil {
			t.Errorf("parseOptions(%q) gave no error", args)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis, as /proc allows.
	stat := "1234 (node (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 1000 0 0"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s (300 ticks)", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 ab 5 0"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) gave no error", bad)
		}
	}
}
