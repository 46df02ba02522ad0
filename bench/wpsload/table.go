// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one line of the result table.
type row struct {
	name, rate, detail string
	p50, p99           time.Duration
	deliveries         float64 // per second, for fan-out rows
}

// medianRow summarises repeated runs of one scenario: the median of the throughputs, of the
// p50s and of the p99s (each taken separately).
func medianRow(runs []row) row {
	med := func(get func(row) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = get(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return row{
		name:       fmt.Sprintf("%s — median of %d runs", runs[0].name, len(runs)),
		deliveries: med(func(r row) float64 { return r.deliveries }),
		rate:       fmt.Sprintf("%s deliveries/s", thousands(int(med(func(r row) float64 { return r.deliveries })))),
		p50:        time.Duration(med(func(r row) float64 { return float64(r.p50) })),
		p99:        time.Duration(med(func(r row) float64 { return float64(r.p99) })),
		detail:     "REST send → receipt",
	}
}

func memoryRow(n int, before, after memStats) row {
	rss := float64(after.rss-before.rss) / float64(n) / 1024
	heap := float64(after.heapStacks-before.heapStacks) / float64(n) / 1024
	stacks := float64(after.stacks-before.stacks) / float64(n) / 1024
	return row{
		name:   fmt.Sprintf("Memory per idle connection (%s connections)", thousands(n)),
		rate:   fmt.Sprintf("%.1f KiB RSS, %.1f KiB Go heap+stacks (%.1f KiB stacks)", rss, heap, stacks),
		detail: "service process, after 3 s idle",
	}
}

func percentile(samples []int64, p int) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return time.Duration(s[max(0, min(len(s)-1, i-1))])
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// formatTable returns the rows as a Markdown table.
func formatTable(rows []row) string {
	w := new(strings.Builder)
	fmt.Fprintf(w, "| scenario | throughput / size | p50 | p99 | measured |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		p50, p99 := "–", "–"
		if r.p99 > 0 {
			p50, p99 = r.p50.Round(100*time.Microsecond).String(), r.p99.Round(100*time.Microsecond).String()
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.name, r.rate, p50, p99, r.detail)
	}
	return w.String()
}
