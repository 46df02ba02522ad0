// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

// Command operator is the scale benchmark of the ChatHub operator, run as a
// black box (test/operator): for each run it starts a fresh kube-apiserver,
// creates unrelated Secrets (with data), starts a 'chathub manager' binary,
// creates ChatHubs with connection-string sources (registration Manual)
// across namespaces, acts as the kubelet, and measures the time until every
// ChatHub is Ready, the reconciles, and the manager process's own memory:
// RSS and peak RSS from /proc/<pid>/status, Go heap in use from its
// /metrics. It prints one Markdown table.
//
// Several binaries can be compared; their runs alternate:
//
//	go build -o bin/chathub . && go run ./bench/operator --chathub before=/path/to/old,after=bin/chathub --rounds 2
//
// It reads the manager's memory from /proc, so it runs on Linux only.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/chathub/chathub/test/operator"
)

type config struct {
	binaries   []binary
	rounds     int
	hubs       int
	secrets    int
	secretSize int
	namespaces int
	timeout    time.Duration
	verbose    bool
}

type binary struct{ label, path string }

func main() {
	var c config
	var bins string
	flag.StringVar(&bins, "chathub", "bin/chathub", "Comma-separated manager binaries to measure, each `label=path` or a path.")
	flag.IntVar(&c.rounds, "rounds", 1, "Runs of each binary; the binaries alternate.")
	flag.IntVar(&c.hubs, "hubs", 500, "ChatHubs to create.")
	flag.IntVar(&c.secrets, "secrets", 5000, "Unrelated Secrets present before the manager starts.")
	flag.IntVar(&c.secretSize, "secret-bytes", 2048, "Bytes of data in each unrelated Secret.")
	flag.IntVar(&c.namespaces, "namespaces", 50, "Namespaces the ChatHubs and Secrets are spread over.")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "Give up on a run after this long.")
	flag.BoolVar(&c.verbose, "v", false, "Show the manager's log.")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard()) // envtest's own log
	for _, b := range strings.Split(bins, ",") {
		label, path, ok := strings.Cut(b, "=")
		if !ok {
			label, path = b, b
		}
		c.binaries = append(c.binaries, binary{label: label, path: path})
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench/operator:", err)
		os.Exit(1)
	}
}

// result is one run's figures.
type result struct {
	bin                 binary
	idleRSS, idleHeap   float64 // after start, before any ChatHub
	ready               time.Duration
	reconciles          float64
	rss, peakRSS, heap  float64 // once all are Ready
	loadBefore, loadEnd string
}

func run(c config) error {
	root, err := operator.ModuleRoot()
	if err != nil {
		return err
	}
	var results []result
	for round := range c.rounds {
		for _, b := range c.binaries {
			fmt.Fprintf(os.Stderr, "round %d: %s (%s)\n", round+1, b.label, b.path)
			r, err := runOnce(c, root, b)
			if err != nil {
				return fmt.Errorf("%s: %w", b.label, err)
			}
			fmt.Fprintf(os.Stderr, "  all %d Ready in %s, RSS %.1f MiB, heap %.1f MiB\n", c.hubs, r.ready.Round(time.Millisecond), r.rss/mib, r.heap/mib)
			results = append(results, r)
		}
	}
	fmt.Printf("%d ChatHubs (connection string, registration Manual) in %d namespaces, %d unrelated Secrets of %d bytes; "+
		"manager process figures (RSS from /proc, heap = go_memstats_heap_inuse_bytes)\n\n",
		c.hubs, c.namespaces, c.secrets, c.secretSize)
	fmt.Println("| binary | all Ready | reconciles | idle RSS | idle heap | RSS when Ready | peak RSS | heap when Ready | load avg (start → end) |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		fmt.Printf("| %s | %.2f s | %.0f | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %s → %s |\n",
			r.bin.label, r.ready.Seconds(), r.reconciles, r.idleRSS/mib, r.idleHeap/mib, r.rss/mib, r.peakRSS/mib, r.heap/mib, r.loadBefore, r.loadEnd)
	}
	return nil
}

const mib = 1 << 20

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func runOnce(c config, root string, bin binary) (res result, err error) {
	res.bin = bin
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "bench-operator-")
	if err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	env, err := operator.StartEnv(root, dir)
	if err != nil {
		return res, err
	}
	defer func() { _ = env.Stop() }()

	nss := make([]string, c.namespaces)
	for i := range nss {
		nss[i] = fmt.Sprintf("tenant-%02d", i)
		if err := operator.CreateNamespace(ctx, env.Kube, nss[i]); err != nil {
			return res, err
		}
	}
	// Unrelated Secrets, spread over the same namespaces.
	data := make([]byte, c.secretSize)
	_, _ = rand.Read(data)
	if err := parallel(ctx, c.secrets, func(i int) error {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("unrelated-%d", i), Namespace: nss[i%len(nss)]},
			Data: map[string][]byte{"data": data}}
		_, err := env.Kube.CoreV1().Secrets(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		return err
	}); err != nil {
		return res, fmt.Errorf("creating the unrelated Secrets: %w", err)
	}

	logw := io.Discard
	if c.verbose {
		logw = os.Stderr
	}
	mgr, err := operator.StartManager(ctx, bin.path, env.Kubeconfig, logw)
	if err != nil {
		return res, err
	}
	defer mgr.Stop()
	kubeletDone := make(chan struct{})
	kctx, kcancel := context.WithCancel(ctx)
	go func() { operator.FakeKubelet(kctx, env.Kube, 8); close(kubeletDone) }()
	defer func() { kcancel(); <-kubeletDone }()

	time.Sleep(2 * time.Second) // let the caches settle
	if res.idleRSS, res.idleHeap, err = memory(mgr); err != nil {
		return res, err
	}
	res.loadBefore = loadavg()

	start := time.Now()
	if err := parallel(ctx, c.hubs, func(i int) error {
		ns, name := nss[i%len(nss)], fmt.Sprintf("hub-%d", i)
		// Each hub its own service (endpoint), so none conflict.
		s := operator.ConnectionSecret(ns, name+"-awps", fmt.Sprintf("http://127.0.0.1:%d", 1+i))
		if _, err := env.Kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := env.Dynamic.Resource(operator.ChatHubs).Namespace(ns).Create(ctx, operator.ConnectionStringHub(ns, name, "", name+"-awps"), metav1.CreateOptions{})
		return err
	}); err != nil {
		return res, fmt.Errorf("creating the ChatHubs: %w", err)
	}
	for {
		list, err := env.Dynamic.Resource(operator.ChatHubs).List(ctx, metav1.ListOptions{})
		if err != nil {
			return res, err
		}
		ready := 0
		for i := range list.Items {
			if s, _, _ := operator.Condition(&list.Items[i], "Ready"); s == "True" {
				ready++
			}
		}
		if ready == c.hubs {
			break
		}
		if exited, err := mgr.Exited(); exited {
			return res, fmt.Errorf("the manager exited: %w", err)
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("%d of %d ChatHubs Ready: %w", ready, c.hubs, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	res.ready = time.Since(start)
	res.loadEnd = loadavg()
	m, err := mgr.Metrics(`controller="chathub"`)
	if err != nil {
		return res, err
	}
	res.reconciles = m["controller_runtime_reconcile_total"]
	if res.rss, res.heap, err = memory(mgr); err != nil {
		return res, err
	}
	res.peakRSS, err = mgr.PeakRSS()
	return res, err
}

// memory is the manager's RSS and Go heap in use, in bytes.
func memory(mgr *operator.Manager) (rss, heap float64, err error) {
	r, err := mgr.RSS()
	if err != nil {
		return 0, 0, err
	}
	m, err := mgr.Metrics()
	if err != nil {
		return 0, 0, err
	}
	h, ok := m["go_memstats_heap_inuse_bytes"]
	if !ok {
		return 0, 0, fmt.Errorf("the manager's /metrics has no go_memstats_heap_inuse_bytes")
	}
	return float64(r), h, nil
}

// parallel runs f(0..n-1) on 16 goroutines and returns the first error.
func parallel(ctx context.Context, n int, f func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
