// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

func sortDurations(d []time.Duration) { slices.Sort(d) }

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// formatTable returns the results side by side as a Markdown table.
func formatTable(o options, results []result) string {
	w := new(strings.Builder)
	w.WriteByte('\n')
	w.WriteString("| measurement |")
	for _, r := range results {
		fmt.Fprintf(w, " %s |", r.name)
	}
	w.WriteByte('\n')
	w.WriteString("|---|")
	for range results {
		w.WriteString("---:|")
	}
	w.WriteByte('\n')
	row := func(label string, cell func(r result) string) {
		fmt.Fprintf(w, "| %s |", label)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", cell(r))
		}
		w.WriteByte('\n')
	}
	if slices.Contains(o.scenarios, "negotiate") {
		row(fmt.Sprintf("`/negotiate` req/s (%d concurrent)", o.negotiateConcurrency), func(r result) string {
			return fmt.Sprintf("%.0f", r.negotiate.rps)
		})
		row("`/negotiate` p50 / p99", func(r result) string {
			return ms(r.negotiate.p50) + " / " + ms(r.negotiate.p99)
		})
		row("`/negotiate` errors", func(r result) string { return fmt.Sprint(r.negotiate.errors) })
	}
	for i, n := range o.sizes {
		if !slices.Contains(o.scenarios, "messages") {
			break
		}
		get := func(r result) *messageResult {
			if i < len(r.messages) {
				return &r.messages[i]
			}
			return nil
		}
		row(fmt.Sprintf("N=%d: message latency p50 / p99 (all N have it)", n), func(r result) string {
			if m := get(r); m != nil {
				return ms(m.p50) + " / " + ms(m.p99)
			}
			return "–"
		})
		row(fmt.Sprintf("N=%d: latency to the first client p50 / p99 (the path without the fan-out)", n), func(r result) string {
			if m := get(r); m != nil {
				return ms(m.firstP50) + " / " + ms(m.firstP99)
			}
			return "–"
		})
		row(fmt.Sprintf("N=%d: messages/s sustained (offered %d/s)", n, o.rates[i]), func(r result) string {
			if m := get(r); m != nil {
				return fmt.Sprintf("%.1f", m.sustained)
			}
			return "–"
		})
		row(fmt.Sprintf("N=%d: deliveries/s", n), func(r result) string {
			if m := get(r); m != nil {
				return fmt.Sprintf("%.0f", m.deliveriesPerSec)
			}
			return "–"
		})
		row(fmt.Sprintf("N=%d: messages sent / deliveries lost / out of order", n), func(r result) string {
			if m := get(r); m != nil {
				return fmt.Sprintf("%d / %d / %d", m.sent, m.lost, m.outOfOrder)
			}
			return "–"
		})
	}
	if len(results) == 2 && results[1].negotiate.rps > 0 {
		fmt.Fprintf(w, "\n`/negotiate` speed-up over the baseline: %.1f×\n", results[0].negotiate.rps/results[1].negotiate.rps)
	}
	return w.String()
}
