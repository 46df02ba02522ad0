// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

// Command wpsload is the load harness of the PubSub service. It starts
// `chathub pubsub` as a child process, connects its clients from this process (all on
// 127.0.0.1, bounded in count and time) and prints a Markdown table: memory per idle
// connection, broadcast fan-out to 1,000 and 10,000 connections (deliveries/s, the latency
// from the REST send to the receipt, the CPU time each process spent per delivery and a
// per-connection check that every member received every message; each run repeated and
// summarised by its median), and user-event round trips through an upstream event handler;
// then memory and fan-out again with the connections spread over --replicas processes
// sharing the hub through a nats-server in this process.
// The fan-out clients are raw sockets read by epoll loops (rawclient.go) so that the
// harness costs the machine as little as possible, which makes it a Linux-only command.
//
//	go build -o bin/chathub . && go run ./bench/wpsload --chathub bin/chathub
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/chathub/chathub/bench/internal/profiling"
	"github.com/chathub/chathub/pubsub"
	"github.com/chathub/chathub/webpubsub"
)

// config holds the harness flags.
type config struct {
	chathub        string
	conns          int
	smallGroup     int
	duration       time.Duration
	rateSmall      float64
	rateAll        float64
	payload        int
	eventClients   int
	eventsDuration time.Duration
	runs           int
	pollers        int
	scenarios      string
	pollInterval   time.Duration
	compare        compareConfig
	profileDir     string
	profileTop     int
	replicas       int
}

func main() {
	var c config
	flag.StringVar(&c.chathub, "chathub", "bin/chathub", "path of the chathub binary")
	flag.IntVar(&c.conns, "conns", 10000, "connections for the idle-memory and 10k fan-out scenarios (max 15000)")
	flag.IntVar(&c.smallGroup, "group", 1000, "connections in the small fan-out group")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "length of each fan-out scenario (max 60s)")
	flag.Float64Var(&c.rateSmall, "rate-group", 100, "REST sends per second to the small group (100 × 1,000 members = 100,000 deliveries/s)")
	flag.Float64Var(&c.rateAll, "rate-all", 10, "REST broadcasts per second to all connections (10 × 10,000 = 100,000 deliveries/s)")
	flag.IntVar(&c.payload, "payload", 64, "payload bytes per message")
	flag.IntVar(&c.eventClients, "event-clients", 32, "clients sending user events concurrently")
	flag.DurationVar(&c.eventsDuration, "events-duration", 5*time.Second, "length of the user-event scenario (max 60s)")
	flag.IntVar(&c.runs, "runs", 3, "runs of each fan-out scenario (the table adds their median)")
	flag.IntVar(&c.pollers, "pollers", 2, "epoll loops reading the client connections")
	flag.StringVar(&c.scenarios, "scenarios", "group,all,events,compare", "scenarios to run: idle (the idle-memory one alone), group, all, events (each after the idle-memory one), compare (the PubSub service, Centrifugo and wsfloor)")
	flag.DurationVar(&c.pollInterval, "poll-interval", time.Millisecond, "client epoll loops poll this often instead of blocking (0: block in epoll_wait)")
	flag.StringVar(&c.compare.centrifugo, "centrifugo", "bin/centrifugo-v6.9.1", "path of the centrifugo binary for the comparison (make centrifugo)")
	flag.StringVar(&c.compare.floor, "floor", "bin/wsfloor", "path of the wsfloor binary for the comparison (go build ./bench/wsfloor)")
	flag.IntVar(&c.compare.rounds, "compare-rounds", 3, "rounds of the comparison; each runs the three servers one after the other")
	flag.IntVar(&c.compare.sends, "compare-sends", 50, "broadcasts to every connection per server and round in the comparison")
	flag.Float64Var(&c.compare.rate, "compare-rate", 10, "broadcasts per second in the comparison (0: back to back, each after the previous one returned)")
	flag.IntVar(&c.compare.payload, "compare-payload", 100, "bytes of the comparison's JSON payload (at least 32)")
	flag.StringVar(&c.profileDir, "profile-dir", "", "write CPU and allocation profiles of the PubSub service during the first run of each fan-out scenario, and its heap profile with the idle connections, to this directory and print their heads (off when empty)")
	flag.IntVar(&c.profileTop, "profile-top", 10, "entries of each profile's 'go tool pprof -top' to print")
	flag.IntVar(&c.replicas, "replicas", 3, "after the single-replica scenarios, run the idle-memory, group and all scenarios again with this many `chathub pubsub --nats-url` replicas sharing the hub through a nats-server in this process, the connections spread over them and the REST sends to the first (the overhead of the NATS hop, not capacity); 1: off")
	flag.Parse()
	c.compare.conns, c.compare.pollers, c.compare.pollInterval = c.conns, c.pollers, c.pollInterval
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "wpsload:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.conns < c.smallGroup || c.runs < 1 || c.pollers < 1 || c.conns > 15000 || c.duration > time.Minute || c.eventsDuration > time.Minute {
		return errors.New("conns must be within [group, 15000] and durations at most 60s")
	}
	if c.replicas < 1 || c.replicas > 5 {
		return errors.New("--replicas must be within [1, 5]")
	}
	scenarios := strings.Split(c.scenarios, ",")
	for _, s := range scenarios {
		if !slices.Contains([]string{"idle", "group", "all", "events", "compare"}, s) {
			return fmt.Errorf("unknown scenario %q in --scenarios (idle, group, all, events, compare)", s)
		}
	}
	if c.compare.rounds < 1 || c.compare.sends < 1 || c.compare.sends > 1000 || c.compare.payload < 32 || c.compare.payload > 4096 || c.compare.rate < 0 {
		return errors.New("the comparison needs --compare-rounds ≥ 1, --compare-sends within [1, 1000], --compare-payload within [32, 4096] and --compare-rate ≥ 0")
	}
	if c.profileDir != "" {
		if err := os.MkdirAll(c.profileDir, 0o750); err != nil {
			return fmt.Errorf("--profile-dir: %w", err)
		}
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	const hub = "bench"
	handler, err := startEventHandler(hub, key)
	if err != nil {
		return err
	}
	defer handler.Close()
	var table string
	if slices.ContainsFunc(scenarios, func(s string) bool { return s != "compare" }) {
		if table, err = runService(c, scenarios, hub, key, handler.URL, 1); err != nil {
			return err
		}
		fmt.Print(table)
		if c.replicas > 1 && slices.ContainsFunc(scenarios, func(s string) bool { return s == "group" || s == "all" }) {
			if table, err = runService(c, scenarios, hub, key, handler.URL, c.replicas); err != nil {
				return err
			}
			fmt.Print(table)
		}
	}
	if slices.Contains(scenarios, "compare") {
		table, err := runCompare(c.compare, func() (*peer, error) { return chathubPeer(c.chathub, hub, key, handler.URL) })
		if err != nil {
			return err
		}
		fmt.Print(table)
	}
	return nil
}

// runService runs the PubSub service's own scenarios (idle memory, group, all, events) on one
// service process, or on replicas processes sharing the hub through NATS (idle memory,
// group, all), and returns their table.
func runService(c config, scenarios []string, hub, key, handlerURL string, replicas int) (string, error) {
	var pprofAddr string
	if c.profileDir != "" && replicas == 1 {
		var err error
		if pprofAddr, err = freePort(); err != nil {
			return "", err
		}
	}
	var extra []string
	if replicas > 1 {
		ns, err := startNATS()
		if err != nil {
			return "", err
		}
		defer ns.Shutdown()
		extra = []string{"--nats-url", ns.ClientURL()}
		fmt.Fprintf(os.Stderr, "wpsload: %d replicas sharing the hub through NATS at %s\n", replicas, ns.ClientURL())
	}
	var svcs services
	defer func() { svcs.stop() }()
	var rests []*webpubsub.Client
	for range replicas {
		svc, err := startService(c.chathub, hub, key, handlerURL, pprofAddr, extra...)
		if err != nil {
			return "", err
		}
		svcs = append(svcs, svc)
		rest, err := webpubsub.NewClient(svc.cs, hub, &webpubsub.ClientOptions{HTTPClient: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 64}}})
		if err != nil {
			return "", err
		}
		rests = append(rests, rest)
	}
	if replicas > 1 {
		if err := svcs.waitReady(); err != nil {
			return "", err
		}
	}
	rest := rests[0]
	svc := svcs

	var rows []row
	if pprofAddr != "" {
		if err := printHeapProfile(pprofAddr, c.profileDir, "start", "before the connections open", c.profileTop); err != nil {
			return "", err
		}
	}
	base, err := svc.memory()
	if err != nil {
		return "", err
	}
	fleet, err := connectFleet(rests, c.conns, c.smallGroup, c.pollers, c.pollInterval)
	if err != nil {
		return "", err
	}
	defer fleet.close()
	time.Sleep(3 * time.Second) // let the service settle (GC, stack shrinking)
	after, err := svc.memory()
	if err != nil {
		return "", err
	}
	rows = append(rows, memoryRow(c.conns, base, after))
	if replicas > 1 {
		rows[0].name += fmt.Sprintf(" over %d replicas (their sum)", replicas)
	}
	if pprofAddr != "" {
		if err := printHeapProfile(pprofAddr, c.profileDir, "idle", "with the idle connections", c.profileTop); err != nil {
			return "", err
		}
	}

	for _, sc := range []struct {
		target  string
		members int
		rate    float64
	}{{"group", c.smallGroup, c.rateSmall}, {"all", c.conns, c.rateAll}} {
		if !slices.Contains(scenarios, sc.target) {
			continue
		}
		var runs []row
		for i := range c.runs {
			var capture *profiling.Capture
			if pprofAddr != "" && i == 0 {
				capture = profiling.Start(context.Background(), pprofAddr, c.profileDir, "pubsub-"+sc.target, c.duration)
			}
			r, err := fanOut(rest, fleet, svc, sc.target, sc.members, sc.rate, c.duration, c.payload)
			if err != nil {
				return "", err
			}
			if replicas > 1 {
				r.name += fmt.Sprintf(", %d replicas through NATS", replicas)
			}
			if capture != nil {
				if err := printProfiles(capture, "PubSub service, "+r.name, c.profileTop); err != nil {
					return "", err
				}
			}
			fmt.Fprintf(os.Stderr, "wpsload: %s: %s, p50 %v, p99 %v; %s\n", r.name, r.rate, r.p50, r.p99, r.detail)
			runs = append(runs, r)
			time.Sleep(time.Second) // let the queues and the garbage collector settle
		}
		rows = append(rows, runs...)
		if len(runs) > 1 {
			rows = append(rows, medianRow(runs))
		}
	}
	fleet.close()
	closed, err := memoryAfterClose(svc, base)
	if err != nil {
		return "", err
	}
	rows = append(rows, closed)
	if pprofAddr != "" {
		if err := printHeapProfile(pprofAddr, c.profileDir, "closed", "after the connections closed", c.profileTop); err != nil {
			return "", err
		}
	}

	if slices.Contains(scenarios, "events") && replicas == 1 {
		ev, err := userEvents(rest, c.eventClients, c.eventsDuration, c.payload)
		if err != nil {
			return "", err
		}
		rows = append(rows, ev)
	}
	return formatTable(rows) + fmt.Sprintf("\nThe PubSub service ran with --rate-limit %s: no per-connection message limit (default %d/s, burst %d).\n",
		serviceRateLimit, pubsub.DefaultRateLimit, pubsub.DefaultRateBurst), nil
}

// printHeapProfile writes the heap profile of the service (after a garbage collection) and
// prints its head by bytes in use, with the goroutine count.
func printHeapProfile(addr, dir, name, when string, top int) error {
	file := filepath.Join(dir, "pubsub-"+name+"-heap.pb.gz")
	if err := profiling.Fetch(context.Background(), "http://"+addr+"/debug/pprof/heap?gc=1", file); err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	head, err := profiling.Top(file, top, "-sample_index=inuse_space")
	if err != nil {
		return err
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	fmt.Fprintf(os.Stderr, "wpsload: heap in use of the PubSub service %s (%s); %s\n%s\n", when, file, strings.TrimSpace(line), head)
	return nil
}

// memoryAfterClose waits (at most 60 s) for the service's RSS to come back within 10 % of
// base after every connection closed, and reports where it got to, with its anonymous part:
// the pages of the binary that the connections' code paths touched stay in the RSS (the
// kernel drops them only under memory pressure), so the anonymous part is the one the service
// can give back. It reads only /proc while it waits: a /metrics request every second would
// leave garbage in the service to measure.
func memoryAfterClose(svc interface {
	memory() (memStats, error)
	rss() (int64, error)
}, base memStats) (row, error) {
	start := time.Now()
	for {
		time.Sleep(time.Second)
		rss, err := svc.rss()
		if err != nil {
			return row{}, err
		}
		if float64(rss) <= 1.1*float64(base.rss) || time.Since(start) > time.Minute {
			break
		}
	}
	waited := time.Since(start)
	m, err := svc.memory()
	if err != nil {
		return row{}, err
	}
	return row{
		name: "Memory after the connections close",
		rate: fmt.Sprintf("%.1f MiB RSS (%+.1f %% of the %.1f MiB before they opened), anonymous %.1f MiB (%+.1f %% of %.1f MiB)",
			mib(m.rss), percent(m.rss, base.rss), mib(base.rss), mib(m.rssAnon), percent(m.rssAnon, base.rssAnon), mib(base.rssAnon)),
		detail: fmt.Sprintf("service processes, %.0f s after the clients closed; Go heap+stacks %.1f MiB (%.1f MiB before)",
			waited.Seconds(), mib(m.heapStacks), mib(base.heapStacks)),
	}, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// percent is how much larger than base n is, in percent.
func percent(n, base int64) float64 { return 100 * float64(n-base) / float64(base) }

// printProfiles waits for a capture and prints the heads of its CPU and allocation
// profiles to stderr.
func printProfiles(capture *profiling.Capture, what string, top int) error {
	if err := capture.Wait(); err != nil {
		return fmt.Errorf("profiling: %w", err)
	}
	for _, p := range []struct{ file, kind, flag string }{
		{capture.CPU, "CPU", ""}, {capture.Allocs, "allocated bytes", "-sample_index=alloc_space"},
	} {
		var flags []string
		if p.flag != "" {
			flags = append(flags, p.flag)
		}
		head, err := profiling.Top(p.file, top, flags...)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wpsload: %s profile of the %s (%s):\n%s\n", p.kind, what, p.file, head)
	}
	return nil
}

func newKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// service is the `chathub pubsub` child process.
type service struct {
	cmd *exec.Cmd
	cs  *webpubsub.ConnectionString
	dir string
}

// serviceRateLimit is the PubSub service's --rate-limit under load: none, since each load
// connection sends far more messages per second than the default allows.
const serviceRateLimit = "0"

// startService starts `chathub pubsub` with extra flags; with a pprofAddr it also serves its
// profiles there.
func startService(bin, hub, key, handlerURL, pprofAddr string, extra ...string) (*service, error) {
	dir, err := os.MkdirTemp("", "wpsload")
	if err != nil {
		return nil, err
	}
	settings := map[string]any{"hubs": map[string]any{hub: map[string]any{
		"eventHandlers": []map[string]any{{"urlTemplate": handlerURL + "/events/{event}", "userEventPattern": "*"}},
	}}}
	b, _ := json.Marshal(settings)
	file := filepath.Join(dir, "settings.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, err
	}
	args := append([]string{"pubsub", "--listen", "127.0.0.1:0", "--settings-file", file, "--log-level", "warn", "--rate-limit", serviceRateLimit}, extra...)
	cmd := exec.Command(bin, args...) //nolint:gosec // G204: the chathub binary given on the command line
	fmt.Fprintf(os.Stderr, "wpsload: the PubSub service runs with --rate-limit %s (no per-connection rate limit): the load clients send far more than the default allows\n", serviceRateLimit)
	cmd.Env = append(os.Environ(), pubsub.EnvAccessKey+"="+key)
	if pprofAddr != "" {
		cmd.Env = append(cmd.Env, profiling.EnvFor(pprofAddr))
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &service{cmd: cmd, dir: dir}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("reading the connection string: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if s.cs, err = webpubsub.ParseConnectionString(strings.TrimSpace(line)); err != nil {
		s.stop()
		return nil, err
	}
	// A key from the environment is printed redacted; the harness knows it anyway.
	s.cs.AccessKey = key
	return s, nil
}

func (s *service) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
	_ = os.RemoveAll(s.dir)
}

// memStats is the service's memory at one moment.
type memStats struct {
	rss        int64 // from /proc/<pid>/status
	rssAnon    int64 // its anonymous part (the rest are pages of the binary and other files)
	heapStacks int64 // Go heap in use + goroutine stacks, from /metrics
	stacks     int64 // goroutine stacks alone
}

// services are the replicas of one run: their memory and CPU time are summed.
type services []*service

func (ss services) stop() {
	for _, s := range ss {
		s.stop()
	}
}

func (ss services) memory() (memStats, error) {
	var sum memStats
	for _, s := range ss {
		m, err := s.memory()
		if err != nil {
			return sum, err
		}
		sum.rss += m.rss
		sum.rssAnon += m.rssAnon
		sum.heapStacks += m.heapStacks
		sum.stacks += m.stacks
	}
	return sum, nil
}

// waitReady waits until every replica answers /readyz (it has heard from the others).
func (ss services) waitReady() error {
	for _, s := range ss {
		if err := waitHealthy(s.cs.Endpoint.String() + "/readyz"); err != nil {
			return err
		}
	}
	return nil
}

// startNATS runs a nats-server in this process on a free loopback port.
func startNATS() (*natsserver.Server, error) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats-server is not ready after 10 s")
	}
	return ns, nil
}

// rss returns the summed RSS of the replicas from /proc alone.
func (ss services) rss() (int64, error) {
	var sum int64
	for _, s := range ss {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
		if err != nil {
			return 0, err
		}
		n, err := parseRSS(string(status))
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

func (s *service) memory() (memStats, error) {
	var m memStats
	var err error
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return m, err
	}
	if m.rss, err = parseRSS(string(status)); err != nil {
		return m, err
	}
	if m.rssAnon, err = parseStatusKB(string(status), "RssAnon"); err != nil {
		return m, err
	}
	resp, err := http.Get(s.cs.Endpoint.String() + "/metrics")
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var v float64
		line := sc.Text()
		for _, name := range []string{"go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
			if strings.HasPrefix(line, name) {
				if _, err := fmt.Sscanf(strings.TrimPrefix(line, name), "%g", &v); err != nil {
					return m, fmt.Errorf("parsing the metric %q: %w", line, err)
				}
				m.heapStacks += int64(v)
				if strings.HasPrefix(name, "go_memstats_stack") {
					m.stacks = int64(v)
				}
			}
		}
	}
	return m, sc.Err()
}

// startEventHandler runs the upstream event handler (an echo of user events) in this process.
func startEventHandler(hub, key string) (*handlerServer, error) {
	h, err := webpubsub.NewEventHandler(webpubsub.EventHandlerOptions{
		Hub: hub, AccessKeys: func() []string { return []string{key} }, AllowedOrigins: []string{"*"},
		OnUserEvent: func(_ context.Context, req *webpubsub.UserEventRequest) (*webpubsub.UserEventResponse, error) {
			return &webpubsub.UserEventResponse{Data: req.Data, ContentType: req.ContentType}, nil
		},
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &handlerServer{srv: srv, URL: "http://" + ln.Addr().String()}, nil
}

type handlerServer struct {
	srv *http.Server
	URL string
}

func (h *handlerServer) Close() { _ = h.srv.Close() }
