// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command chat benchmarks the ChatHub chat server against a Node.js
// baseline (express + @azure/web-pubsub + @azure/web-pubsub-express) doing
// the same job against the same PubSub service.
//
// It starts, each in its own process on 127.0.0.1: the PubSub
// service (`chathub pubsub` with a hub settings file), the Go chat server
// (`chathub chatserver`) and the Node baseline (node baseline/server.js). The
// load generators — the /negotiate clients and the N WebSocket chat clients —
// run in this process. It prints a Markdown table.
//
//	go build -o bin/chathub . && go run ./bench/chat -chathub bin/chathub -n 100,1000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/pubsub"
)

func main() {
	exitOn(runBench(os.Args[1:]))
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat bench:", err)
		os.Exit(1)
	}
}

// options are the benchmark's flags.
type options struct {
	negotiateConcurrency int
	negotiateDuration    time.Duration
	sizes                []int
	rates                []int
	messageDuration      time.Duration
	senders              int
	chathub              string
	node                 string
	baseline             string
	skipBaseline         bool
	floor                string
	scenarios            []string
	many                 manyOptions
	profileDir           string
	profileTop           int
}

func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("chat bench", flag.ContinueOnError)
	fs.IntVar(&o.negotiateConcurrency, "concurrency", 64, "concurrent /negotiate clients")
	fs.DurationVar(&o.negotiateDuration, "negotiate-duration", 5*time.Second, "how long to measure /negotiate")
	sizes := fs.String("n", "100,1000", "comma-separated numbers of chat clients")
	rates := fs.String("rate", "50,10", "comma-separated messages per second sent, one per -n value")
	fs.DurationVar(&o.messageDuration, "message-duration", 10*time.Second, "how long to send messages at each size")
	fs.IntVar(&o.senders, "senders", 10, "how many of the clients take turns sending")
	fs.StringVar(&o.chathub, "chathub", "bin/chathub", "the chathub binary")
	fs.StringVar(&o.node, "node", "node", "the node binary")
	fs.StringVar(&o.baseline, "baseline", "bench/chat/baseline/server.js", "the Node.js baseline server")
	fs.BoolVar(&o.skipBaseline, "skip-baseline", false, "measure only the Go chat server")
	fs.StringVar(&o.floor, "floor", "", "the wsfloor binary: also measure the naive floor of the chat path with it, two loopback HTTP hops and one fan-out (bench/wsfloor; off when empty)")
	scenarios := fs.String("scenarios", "negotiate,messages,many", "comma-separated scenarios: negotiate, messages (the -n sizes), many (many senders stepping up the rate)")
	fs.IntVar(&o.many.users, "many-users", 100, "many senders: chat users")
	fs.IntVar(&o.many.senders, "many-senders", 20, "many senders: how many of the users send, in turn")
	fs.IntVar(&o.many.start, "many-start", 100, "many senders: the first total rate tried, messages per second")
	fs.IntVar(&o.many.max, "many-max", 12800, "many senders: the highest total rate tried, messages per second")
	fs.IntVar(&o.many.refine, "many-refine", 2, "many senders: bisection steps after the first rate that does not hold")
	fs.DurationVar(&o.many.step, "many-step", 5*time.Second, "many senders: how long each rate is sent")
	fs.DurationVar(&o.many.p99, "many-p99", 50*time.Millisecond, "many senders: a rate holds when its p99 is under this and nothing is lost")
	fs.StringVar(&o.profileDir, "profile-dir", "", "write CPU and allocation profiles of the PubSub service, the Go chat server and the load clients (this process) during each many-senders step of the Go chat server to this directory and print the heads of the highest step that held (off when empty)")
	fs.IntVar(&o.profileTop, "profile-top", 10, "entries of each profile's 'go tool pprof -top' to print")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o750); err != nil {
			return o, fmt.Errorf("-profile-dir: %w", err)
		}
	}
	var err error
	if o.scenarios, err = scenarioList(*scenarios); err != nil {
		return o, err
	}
	if o.many.users < 1 || o.many.senders < 1 || o.many.senders > o.many.users || o.many.start < 1 || o.many.max < o.many.start ||
		o.many.refine < 0 || o.many.step < time.Second || o.many.p99 <= 0 {
		return o, errors.New("many senders: -many-users ≥ -many-senders ≥ 1, -many-max ≥ -many-start ≥ 1, -many-refine ≥ 0, -many-step ≥ 1s and -many-p99 > 0 are needed")
	}
	if o.sizes, err = intList(*sizes); err != nil {
		return o, fmt.Errorf("-n: %w", err)
	}
	if o.rates, err = intList(*rates); err != nil {
		return o, fmt.Errorf("-rate: %w", err)
	}
	for len(o.rates) < len(o.sizes) {
		o.rates = append(o.rates, o.rates[len(o.rates)-1])
	}
	return o, nil
}

// scenarioList parses -scenarios.
func scenarioList(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains([]string{"negotiate", "messages", "many"}, f) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (negotiate, messages, many)", f)
		}
		out = append(out, f)
	}
	return out, nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// result is one server's measurements.
type result struct {
	name      string
	negotiate negotiateResult
	messages  []messageResult
	many      manyResult
}

func runBench(args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	loadStart := loadAverage()
	procs := &processes{}
	defer procs.stopAll()
	env, err := startEnvironment(ctx, procs, o)
	if err != nil {
		return err
	}

	var results []result
	targets := []target{env.goChat}
	if !o.skipBaseline {
		targets = append(targets, env.nodeChat)
	}
	if env.floor.baseURL != "" {
		targets = append(targets, env.floor)
	}
	has := func(sc string) bool { return slices.Contains(o.scenarios, sc) }
	for _, tg := range targets {
		r := result{name: tg.name}
		if has("negotiate") && tg.name != env.floor.name { // the floor has no tokens to sign
			fmt.Fprintf(os.Stderr, "== %s: /negotiate with %d concurrent clients for %s\n", tg.name, o.negotiateConcurrency, o.negotiateDuration)
			r.negotiate, err = benchNegotiate(ctx, tg.baseURL, o.negotiateConcurrency, o.negotiateDuration)
			if err != nil {
				return fmt.Errorf("%s /negotiate: %w", tg.name, err)
			}
			fmt.Fprintf(os.Stderr, "   %.0f req/s, p99 %s\n", r.negotiate.rps, ms(r.negotiate.p99))
		}
		for i, n := range o.sizes {
			if !has("messages") {
				break
			}
			fmt.Fprintf(os.Stderr, "== %s: %d clients, %d msg/s for %s\n", tg.name, n, o.rates[i], o.messageDuration)
			mr, err := benchMessages(ctx, tg.baseURL, n, o.rates[i], o.messageDuration, o.senders, nil)
			if err != nil {
				return fmt.Errorf("%s messages at N=%d: %w", tg.name, n, err)
			}
			fmt.Fprintf(os.Stderr, "   p50 %s p99 %s (to the first client: %s / %s), %.1f msg/s, lost %d\n", ms(mr.p50), ms(mr.p99), ms(mr.firstP50), ms(mr.firstP99), mr.sustained, mr.lost)
			r.messages = append(r.messages, mr)
		}
		if has("many") {
			var prof []profiled
			if o.profileDir != "" && tg.name == env.goChat.name {
				prof = env.profiled
			}
			pids := [2]int{env.servicePID, env.goPID}
			switch tg.name {
			case env.nodeChat.name:
				pids[1] = env.nodePID
			case env.floor.name:
				pids = env.floorPIDs
			}
			if r.many, err = benchMany(ctx, tg, o.many, pids, o.profileDir, prof); err != nil {
				return fmt.Errorf("%s many senders: %w", tg.name, err)
			}
			if len(prof) > 0 {
				if err := printManyProfiles(r.many, o.profileDir, prof, o.profileTop); err != nil {
					return err
				}
			}
		}
		results = append(results, r)
	}
	if has("negotiate") || has("messages") {
		fmt.Print(formatTable(o, results))
	}
	if has("many") {
		var names []string
		var many []manyResult
		for _, r := range results {
			names, many = append(names, r.name), append(many, r.many)
		}
		fmt.Print(formatMany(o.many, names, many))
	}
	fmt.Printf("\nThe Go chat server ran with %s: its per-user message limit (default %d/s, burst %d) is lifted for the benchmark. The PubSub service ran with --rate-limit %s: no per-connection message limit (default %d/s, burst %d).\n",
		strings.Join(benchRateFlags, " "), chatserver.DefaultUserMessageRate, chatserver.DefaultUserMessageBurst, serviceRateLimit, pubsub.DefaultRateLimit, pubsub.DefaultRateBurst)
	fmt.Printf("\nLoad average (1, 5, 15 min) at the start: %s; at the end: %s; CPUs: %d.\n",
		loadStart, loadAverage(), runtime.NumCPU())
	return nil
}

// loadAverage reads /proc/loadavg: the benchmark shares the machine, and
// the load it found explains its tail latencies.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
