// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build teardown

// Package teardown checks that the local cluster leaves nothing on the
// machine however `make demo` was stopped: it starts the demo's scripts
// (hack/cluster/up.sh then demo.sh) in a process group of their own, as a
// terminal runs `make demo`, sends the group SIGINT (Ctrl-C) while the demo
// waits for its ChatHub to be Ready, runs hack/cluster/down.sh and compares
// hack/cluster/host-state.sh before and after. Run with `make
// test-cluster-teardown`, which passes the cluster's settings (CLUSTER_DIR,
// K8S_BIN, HELM, ...) in the environment; it needs root and a machine with
// no local cluster running (it skips otherwise: it would take it down).
package teardown

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hack is hack/cluster, from this package's folder.
var hack = filepath.Join("..", "..", "hack", "cluster")

func TestInterruptedDemoLeavesNothing(t *testing.T) {
	clusterDir := os.Getenv("CLUSTER_DIR")
	if clusterDir == "" || os.Getenv("HELM") == "" {
		t.Fatal("CLUSTER_DIR and HELM are not set; run the test with 'make test-cluster-teardown'")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the local cluster needs root")
	}
	clusterDir, err := filepath.Abs(clusterDir)
	if err != nil {
		t.Fatal(err)
	}
	if owner, err := os.ReadFile("/run/chathub-cluster/owner"); err == nil {
		t.Fatalf("a local cluster runs on this machine and this test would take it down (make test-cluster-teardown does not start it then):\n%s", owner)
	}
	sample, err := filepath.Abs(filepath.Join("testdata", "never-ready.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	chart, err := filepath.Abs(filepath.Join("..", "..", "charts", "chathub-operator"))
	if err != nil {
		t.Fatal(err)
	}
	before := hostState(t, clusterDir)
	t.Cleanup(func() {
		if t.Failed() { // never leave a cluster behind, whatever failed
			out, _ := script(context.Background(), clusterDir, "down.sh")
			t.Logf("down.sh after the failure:\n%s", out)
		}
	})

	// make demo: cluster-up, then the demo, in one process group.
	demo := exec.Command("bash", "-c", `"$0/up.sh" >/dev/null && exec "$0/demo.sh"`, hack) //nolint:gosec // G204: the repository's own scripts
	demo.Env = append(os.Environ(), "CLUSTER_DIR="+clusterDir, "DEMO_SAMPLE="+sample, "DEMO_NAMESPACE=teardown",
		"CHART="+chart)
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := demo.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	demo.Stdout = &stdout
	start := time.Now()
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	var log lines
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.add(sc.Text())
			if strings.Contains(sc.Text(), "waiting for ChatHub") {
				close(waiting)
			}
		}
	}()
	demoLog := log.String
	exited := make(chan error, 1)
	go func() { exited <- demo.Wait() }()

	select {
	case <-waiting:
		t.Logf("cluster up and operator installed in %s", time.Since(start).Round(time.Second))
	case err := <-exited:
		t.Fatalf("the demo ended before it waited for the ChatHub (%v):\n%s", err, demoLog())
	case <-time.After(8 * time.Minute):
		_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the demo did not reach the wait for Ready in 8 minutes:\n%s", demoLog())
	}
	// The pods of the hub run (the PubSub service and one chat server).
	deadline := time.Now().Add(3 * time.Minute)
	for countPodProcs(t, "chathub-data") < 2 {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
			t.Fatalf("the hub's PubSub and chat server processes did not start in 3 minutes; pod processes: %v\n%s",
				podProcs(t), demoLog())
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Ctrl-C while the demo still waits for Ready.
	if err := syscall.Kill(-demo.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("the demo ended successfully: it was not interrupted while waiting for Ready:\n%s", demoLog())
		}
	case <-time.After(30 * time.Second):
		// Go on: what cluster-down leaves matters most.
		t.Errorf("the demo did not stop within 30s of SIGINT:\n%s", demoLog())
		_ = syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
		if err := <-exited; err != nil {
			t.Logf("the demo after SIGKILL: %v", err)
		}
	}
	if strings.Contains(stdout.String(), "The chat of ChatHub") {
		t.Fatalf("the demo finished before the interrupt:\n%s", stdout.String())
	}
	// The Ctrl-C was the demo's: the cluster's daemons did not get it.
	if out, err := script(context.Background(), clusterDir, "status.sh"); err != nil {
		t.Errorf("the cluster went down with the interrupted demo (its daemons got the SIGINT): %v\n%s", err, out)
	}
	if n := len(podProcs(t)); n == 0 {
		t.Fatal("no pod process runs after the interrupt: nothing left for cluster-down to stop")
	}

	// A crash after the interrupt: containerd and kubelet die, the shims and
	// pods stay, which is what the Ctrl-C did when it reached the daemons.
	for _, d := range []string{"kubelet", "containerd"} {
		killRecorded(t, clusterDir, d)
	}
	t.Logf("pod processes before cluster-down: %v", podProcs(t))

	// make cluster-down
	downStart := time.Now()
	if out, err := script(context.Background(), clusterDir, "down.sh"); err != nil {
		t.Fatalf("down.sh: %v\n%s", err, out)
	}
	t.Logf("cluster-down in %s", time.Since(downStart).Round(time.Second))

	// Killed processes whose parent is init stay zombies until init reaps
	// them: give it a few seconds.
	after := hostState(t, clusterDir)
	for i := 0; i < 20 && len(leftovers(clusterDir, after)) > 0; i++ {
		time.Sleep(500 * time.Millisecond)
		after = hostState(t, clusterDir)
	}
	for _, l := range leftovers(clusterDir, after) {
		t.Error(l)
	}
	// The processes are left out: other tests come and go (their absence
	// is checked above).
	for _, section := range []string{"links", "addresses", "routes", "iptables", "ip6tables", "mounts", "sysctl",
		"netns", "cgroups", "host paths"} {
		b, a := sectionsOf(before, section), sectionsOf(after, section)
		if b != a {
			t.Errorf("host state %q differs after cluster-down:\nbefore:\n%s\nafter:\n%s", section, b, a)
		}
	}
	if _, err := os.Stat("/run/chathub-cluster/owner"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the owner record outlives the cluster: %v", err)
	}
	t.Logf("whole test in %s", time.Since(start).Round(time.Second))
}

// lines collects a command's output lines from another goroutine.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, line)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// script runs one of hack/cluster's scripts with the test's environment.
func script(ctx context.Context, clusterDir, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(hack, name), args...) //nolint:gosec // G204: the repository's own scripts
	cmd.Env = append(os.Environ(), "CLUSTER_DIR="+clusterDir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// hostState is hack/cluster/host-state.sh's snapshot of the machine.
func hostState(t *testing.T, clusterDir string) string {
	t.Helper()
	out, err := script(context.Background(), clusterDir, "host-state.sh")
	if err != nil {
		t.Fatalf("host-state.sh: %v\n%s", err, out)
	}
	return out
}

// sectionsOf returns the lines of every "## <prefix>..." section of a snapshot.
func sectionsOf(state, prefix string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(state, "\n") {
		if name, ok := strings.CutPrefix(line, "## "); ok {
			in = strings.HasPrefix(name, prefix)
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// leftovers lists what of the cluster the snapshot taken after cluster-down
// still shows, whatever was there before.
func leftovers(clusterDir, state string) []string {
	forbidden := map[string]*regexp.Regexp{
		"links":         regexp.MustCompile(`(?m)^(chcni0|chsink|veth\S*)$`),
		"addresses":     regexp.MustCompile(`(?m) 10\.123\.0\.1/`),
		"routes":        regexp.MustCompile(`(?m)^(10\.96\.0\.0/16|10\.124\.)`),
		"iptables":      regexp.MustCompile(`KUBE-|CNI-|chathub-cluster-guard`),
		"ip6tables":     regexp.MustCompile(`KUBE-|CNI-`),
		"mounts":        regexp.MustCompile(`(?m)^(` + regexp.QuoteMeta(clusterDir) + `/|/var/lib/kubelet|/run/containerd|/run/netns)`),
		"daemons":       regexp.MustCompile(`\S`),
		"pod processes": regexp.MustCompile(`\S`),
		"cgroups":       regexp.MustCompile(`kubepods`),
	}
	header := regexp.MustCompile(`(?m)^## .*$`)
	var found []string
	for section, re := range forbidden {
		// Only the sections' contents count, not their headers.
		body := header.ReplaceAllString(sectionsOf(state, section), "")
		if m := re.FindString(body); m != "" {
			found = append(found, fmt.Sprintf("after cluster-down, %s still holds %q:\n%s", section, m, strings.TrimSpace(body)))
		}
	}
	return found
}

// podProcs lists "pid comm" of every process in a kubepods cgroup.
func podProcs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, root := range []string{"/sys/fs/cgroup/*/kubepods", "/sys/fs/cgroup/kubepods*"} {
		dirs, _ := filepath.Glob(root)
		for _, d := range dirs {
			_ = filepath.WalkDir(d, func(p string, _ os.DirEntry, err error) error {
				if err == nil && filepath.Base(p) == "cgroup.procs" {
					files = append(files, p)
				}
				return nil
			})
		}
	}
	seen := map[string]bool{}
	var procs []string
	for _, f := range files {
		data, err := os.ReadFile(f) //nolint:gosec // G304: cgroup files found above
		if err != nil {
			continue
		}
		for _, pid := range strings.Fields(string(data)) {
			if seen[pid] {
				continue
			}
			seen[pid] = true
			comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm")) //nolint:gosec // G304: a pid read from a cgroup
			procs = append(procs, pid+" "+strings.TrimSpace(string(comm)))
		}
	}
	return procs
}

// countPodProcs counts the pod processes named comm.
func countPodProcs(t *testing.T, comm string) int {
	t.Helper()
	n := 0
	for _, p := range podProcs(t) {
		if strings.HasSuffix(p, " "+comm) {
			n++
		}
	}
	return n
}

// killRecorded SIGKILLs the daemon whose pid up.sh recorded.
func killRecorded(t *testing.T, clusterDir, name string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(clusterDir, "pids", name+".pid")) //nolint:gosec // G304: the cluster's pid file
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		t.Fatalf("pid file of %s: %v", name, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Errorf("kill %s (%d): %v", name, pid, err)
		return
	}
	for i := 0; i < 50; i++ {
		// Gone, or a zombie (init reaps the daemons only every few seconds).
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if i := strings.LastIndex(string(stat), ") "); i >= 0 && strings.HasPrefix(string(stat[i+2:]), "Z") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s (%d) survived SIGKILL", name, pid)
}
