// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chathub/chathub/bench/internal/profiling"
)

// The many-senders scenario: users chat users, senders of them sending in turn, and the
// total message rate steps up (doubling, then bisecting between the last rate that held and
// the first that did not) to find the highest rate the whole chat path sustains — client →
// PubSub service → event handler → chat server → REST broadcast → every user — with the
// p99 of "sent → every user has it" under the bound and nothing lost.

// manyOptions are the scenario's flags.
type manyOptions struct {
	users, senders int
	start, max     int // messages per second
	refine         int // bisection steps after the first failure
	step           time.Duration
	p99            time.Duration
}

// manyStep is one rate tried.
type manyStep struct {
	rate int
	res  messageResult
	err  error // the step did not get a measurement (no message reached every user)
	ok   bool
	// cores is the CPU the service, the chat server and this process (the clients) used
	// from the first send until every message arrived, in cores (CPU time / wall time).
	cores [3]float64
}

// manyResult is one chat server's step-up.
type manyResult struct {
	steps []manyStep
	best  *manyStep // the highest step that held, nil when none did
}

// stepper chooses the rates of a step-up: from start it doubles (up to max) while steps hold;
// after the first failure it bisects between the highest rate that held and the lowest that
// failed, refine times; when even start fails it halves until a rate holds (then stops).
type stepper struct {
	cur, best, failed, max, refine int
	done                           bool
}

func newStepper(start, max, refine int) *stepper {
	return &stepper{cur: min(start, max), max: max, refine: refine}
}

// rate returns the next rate to try, or 0 when the step-up is over.
func (s *stepper) rate() int {
	if s.done {
		return 0
	}
	return s.cur
}

// report records whether the current rate held and picks the next one.
func (s *stepper) report(ok bool) {
	if ok {
		s.best = max(s.best, s.cur)
	} else if s.failed == 0 || s.cur < s.failed {
		s.failed = s.cur
	}
	switch {
	case s.failed == 0: // still doubling
		if s.cur >= s.max {
			s.done = true
		}
		s.cur = min(2*s.cur, s.max)
	case s.best == 0: // nothing held yet: halve
		s.cur /= 2
		s.done = s.cur < 1
	default: // bisect
		mid := (s.best + s.failed) / 2
		if s.refine <= 0 || mid <= s.best || mid >= s.failed {
			s.done = true
			return
		}
		s.refine--
		s.cur = mid
	}
}

// stepHolds reports whether a step's measurement meets the bound: every message reached
// every user and the p99 is under the bound.
func stepHolds(r messageResult, bound time.Duration) bool {
	return r.lost == 0 && r.sent > 0 && r.p99 < bound
}

// profiled is a process whose profiles a step captures: a chathub child or this one (the clients).
type profiled struct{ name, addr string }

// benchMany runs the step-up against one chat server. With a profile directory, each step
// captures the CPU and allocation profiles of procs while it sends.
// pids are the service's and the chat server's process IDs.
func benchMany(ctx context.Context, tg target, o manyOptions, pids [2]int, profileDir string, procs []profiled) (manyResult, error) {
	var res manyResult
	st := newStepper(o.start, o.max, o.refine)
	for rate := st.rate(); rate > 0; rate = st.rate() {
		fmt.Fprintf(os.Stderr, "== %s: many senders: %d users, %d sending, %d msg/s in all for %s\n", tg.name, o.users, o.senders, rate, o.step)
		var captures []*profiling.Capture
		var cpu0 [3]time.Duration
		var t0 time.Time
		onSend := func() {
			for _, p := range procs {
				captures = append(captures, profiling.Start(ctx, p.addr, profileDir, manyProfileName(rate, p.name), o.step))
			}
			cpu0, t0 = cpuTimes(pids), time.Now()
		}
		r, err := benchMessages(ctx, tg.baseURL, o.users, rate, o.step, o.senders, onSend)
		cpu1, wall := cpuTimes(pids), time.Since(t0)
		for _, c := range captures {
			if cerr := c.Wait(); cerr != nil {
				return res, fmt.Errorf("profiling: %w", cerr)
			}
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		step := manyStep{rate: rate, res: r, err: err, ok: err == nil && stepHolds(r, o.p99)}
		for i := range step.cores {
			if !t0.IsZero() && cpu0[i] >= 0 && cpu1[i] >= 0 {
				step.cores[i] = (cpu1[i] - cpu0[i]).Seconds() / wall.Seconds()
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "   no measurement: %v\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "   p50 %s p99 %s, %.1f msg/s sustained, lost %d, CPU (cores) %s: %s\n", ms(r.p50), ms(r.p99), r.sustained, r.lost,
				formatCores(step.cores), map[bool]string{true: "holds", false: "does not hold"}[step.ok])
		}
		res.steps = append(res.steps, step)
		st.report(step.ok)
	}
	for i := range res.steps {
		if s := &res.steps[i]; s.ok && (res.best == nil || s.rate > res.best.rate) {
			res.best = s
		}
	}
	return res, nil
}

// manyProfileName names the profiles of one process at one rate.
func manyProfileName(rate int, proc string) string {
	return "many-senders-" + strconv.Itoa(rate) + "-" + proc
}

// printManyProfiles prints the heads of the profiles of the highest step that held (or, when
// none held, the first step) to stderr.
func printManyProfiles(r manyResult, profileDir string, procs []profiled, top int) error {
	if len(r.steps) == 0 {
		return nil
	}
	step := &r.steps[0]
	if r.best != nil {
		step = r.best
	}
	for _, p := range procs {
		base := filepath.Join(profileDir, manyProfileName(step.rate, p.name))
		for _, k := range []struct{ suffix, kind string }{{"-cpu.pprof", "CPU"}, {"-allocs.pprof", "allocated bytes"}} {
			var flags []string
			if k.kind != "CPU" {
				flags = append(flags, "-sample_index=alloc_space")
			}
			head, err := profiling.Top(base+k.suffix, top, flags...)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%s profile of the %s, many senders at %d msg/s (%s):\n%s\n", k.kind, p.name, step.rate, base+k.suffix, head)
		}
	}
	return nil
}

// formatMany returns the step-up results side by side as a Markdown table and the ratio of
// the first server's rate to the second's.
func formatMany(o manyOptions, names []string, results []manyResult) string {
	w := new(strings.Builder)
	fmt.Fprintf(w, "\nMany senders: %d users, %d of them sending in turn; the total rate steps up from %d msg/s (doubling, then %d bisection steps) to the highest at which the p99 of \"sent → every user has it\" stays under %s and nothing is lost (%s per step).\n\n",
		o.users, o.senders, o.start, o.refine, o.p99, o.step)
	w.WriteString("| many senders |")
	for _, n := range names {
		fmt.Fprintf(w, " %s |", n)
	}
	w.WriteString("\n|---|")
	for range names {
		w.WriteString("---:|")
	}
	w.WriteByte('\n')
	row := func(label string, cell func(r manyResult) string) {
		fmt.Fprintf(w, "| %s |", label)
		for _, r := range results {
			fmt.Fprintf(w, " %s |", cell(r))
		}
		w.WriteByte('\n')
	}
	best := func(get func(s *manyStep) string) func(r manyResult) string {
		return func(r manyResult) string {
			if r.best == nil {
				return "none held"
			}
			return get(r.best)
		}
	}
	row("highest rate held (msg/s offered)", best(func(s *manyStep) string { return strconv.Itoa(s.rate) }))
	row("at that rate: messages/s delivered to all", best(func(s *manyStep) string { return fmt.Sprintf("%.1f", s.res.sustained) }))
	row("at that rate: deliveries/s", best(func(s *manyStep) string { return fmt.Sprintf("%.0f", s.res.deliveriesPerSec) }))
	row("at that rate: p50 / p99", best(func(s *manyStep) string { return ms(s.res.p50) + " / " + ms(s.res.p99) }))
	row("at that rate: CPU in cores, service / chat server / clients", best(func(s *manyStep) string { return formatCores(s.cores) }))
	row("steps (msg/s: p99, lost)", func(r manyResult) string {
		var parts []string
		for _, s := range r.steps {
			if s.err != nil {
				parts = append(parts, fmt.Sprintf("%d: no measurement", s.rate))
				continue
			}
			parts = append(parts, fmt.Sprintf("%d: %s, %d", s.rate, ms(s.res.p99), s.res.lost))
		}
		return strings.Join(parts, "; ")
	})
	for i := 1; i < len(results); i++ {
		if results[0].best != nil && results[i].best != nil {
			fmt.Fprintf(w, "\nMany senders: %s sustains %.1f× the rate of %s.\n", names[0], float64(results[0].best.rate)/float64(results[i].best.rate), names[i])
		} else {
			fmt.Fprintf(w, "\nMany senders: no ratio of %s to %s, since one of them held no rate.\n", names[0], names[i])
		}
	}
	return w.String()
}

// formatCores formats the CPU use of the service, the chat server and the clients.
func formatCores(c [3]float64) string {
	return fmt.Sprintf("%.2f / %.2f / %.2f", c[0], c[1], c[2])
}

// cpuTimes returns the CPU time (user + system) of the processes pids and of this process;
// -1 for a process whose time cannot be read.
func cpuTimes(pids [2]int) [3]time.Duration {
	var t [3]time.Duration
	for i, pid := range []int{pids[0], pids[1], os.Getpid()} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t[i] = -1
			continue
		}
		if t[i], err = parseStatCPU(string(b)); err != nil {
			t[i] = -1
		}
	}
	return t
}

// parseStatCPU returns utime + stime of a /proc/<pid>/stat line (in clock ticks of 1/100 s,
// Linux's USER_HZ).
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name in the process stat")
	}
	// After the command name: state is field 3, utime and stime are fields 14 and 15.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("too few fields in the process stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parsing the process stat: %w", err)
	}
	return time.Duration(ut+st) * time.Second / 100, nil
}
