// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build e2e

// Package e2e holds the end-to-end tests of ChatHub: on the local cluster
// (hack/cluster), the chart installed with helm, ChatHubs applied with
// kubectl, and real headless Chromium users chatting through kubectl
// port-forward. Run them with `make test-e2e` (see docs/e2e.md), which
// passes the cluster through these variables:
//
//	E2E_KUBECONFIG  the cluster's admin kubeconfig
//	E2E_KUBECTL     kubectl
//	E2E_HELM        helm
//	E2E_CHROMIUM    Debian's chromium
//	E2E_CHART       charts/chathub-operator
//	E2E_STATE_DIR   a folder for logs and browser profiles
//	E2E_NATS_IMAGE  the NATS server image in the cluster
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// env is the test's view of the cluster, read from the E2E_* variables.
type env struct {
	kubeconfig, kubectl, helm, chromium, chart, stateDir string
	// image is the operator's image (repository:tag) in the local OCI
	// registry, which the cluster pulls it from (E2E_IMAGE).
	image string
	// registryLog is the local registry's request log (E2E_REGISTRY_LOG).
	registryLog string
	// natsImage is the NATS server image imported into the cluster, which
	// the operator runs for a managed NATS (E2E_NATS_IMAGE).
	natsImage string
	// kubeCache is this run's kubectl discovery cache. The default one in
	// ~/.kube/cache outlives the cluster (its address is always the same),
	// so after the CRDs change it can name kinds the API server no longer
	// serves that way.
	kubeCache string
}

// The release the tests install: the same name and namespace as `make demo`,
// so that the CRD it keeps on uninstall is adopted again by the next install.
const (
	release         = "chathub-operator"
	operatorNS      = "chathub-system"
	operatorDeploy  = "chathub-operator"
	readyTimeout    = "180s"
	chatServicePort = 80
)

var e2e env

func TestMain(m *testing.M) {
	e2e = env{
		kubeconfig: os.Getenv("E2E_KUBECONFIG"), kubectl: os.Getenv("E2E_KUBECTL"), helm: os.Getenv("E2E_HELM"),
		chromium: os.Getenv("E2E_CHROMIUM"), chart: os.Getenv("E2E_CHART"), stateDir: os.Getenv("E2E_STATE_DIR"),
		image: os.Getenv("E2E_IMAGE"), registryLog: os.Getenv("E2E_REGISTRY_LOG"), natsImage: os.Getenv("E2E_NATS_IMAGE"),
	}
	for name, v := range map[string]string{
		"E2E_KUBECONFIG": e2e.kubeconfig, "E2E_KUBECTL": e2e.kubectl, "E2E_HELM": e2e.helm,
		"E2E_CHROMIUM": e2e.chromium, "E2E_CHART": e2e.chart, "E2E_STATE_DIR": e2e.stateDir, "E2E_IMAGE": e2e.image,
		"E2E_REGISTRY_LOG": e2e.registryLog, "E2E_NATS_IMAGE": e2e.natsImage,
	} {
		if v == "" {
			fmt.Fprintf(os.Stderr, "e2e: %s is not set; run the tests with 'make test-e2e'\n", name)
			os.Exit(2)
		}
	}
	if err := os.MkdirAll(e2e.stateDir, 0o750); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	cache, err := os.MkdirTemp(e2e.stateDir, "kubecache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(2)
	}
	e2e.kubeCache = cache
	code := m.Run()
	_ = os.RemoveAll(cache)
	os.Exit(code)
}

// kubectl runs kubectl on the cluster and returns its stdout; stderr goes
// into the error.
func kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return run(ctx, stdin, e2e.kubectl, append([]string{"--kubeconfig", e2e.kubeconfig, "--cache-dir", e2e.kubeCache}, args...)...)
}

// imageRepository and imageTag split e2e.image (the registry's host:port
// keeps its colon).
func imageRepository() string { return e2e.image[:strings.LastIndex(e2e.image, ":")] }
func imageTag() string        { return e2e.image[strings.LastIndex(e2e.image, ":")+1:] }

// helm runs helm on the cluster.
func helm(ctx context.Context, args ...string) (string, error) {
	return run(ctx, "", e2e.helm, append([]string{"--kubeconfig", e2e.kubeconfig}, args...)...)
}

func run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...) //nolint:gosec // G204: runs the tools the Makefile passes in (kubectl, helm)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// must returns a func that fails the test when a command's error is set:
// must(t)(kubectl(...)).
func must(t *testing.T) func(string, error) string {
	return func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// jsonpath reads one field of an object ("" when the object is missing).
func jsonpath(ctx context.Context, ns, obj, path string) string {
	args := []string{"get", obj, "-o", "jsonpath={" + path + "}"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := kubectl(ctx, "", args...)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// eventually polls cond every 500ms until it returns "" or timeout passes,
// then fails with cond's last complaint.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		if last = cond(); last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %s: %s", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// exists reports whether kubectl finds the object.
func exists(ctx context.Context, ns, obj string) bool {
	_, err := kubectl(ctx, "", "-n", ns, "get", obj, "-o", "name")
	return err == nil
}

// podNames lists the names of the running pods matching a label selector.
func podNames(ctx context.Context, ns, selector string) []string {
	out, err := kubectl(ctx, "", "-n", ns, "get", "pods", "-l", selector,
		"--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		return nil
	}
	return strings.Fields(out)
}

// portForward forwards a random 127.0.0.1 port to a Service's port and
// returns the base URL; the forward stops with the test.
func portForward(t *testing.T, ns, svc string, port int) string {
	t.Helper()
	return portForwardTo(t, ns, "service/"+svc, port)
}

// portForwardTo forwards a random 127.0.0.1 port to a port of target
// ("service/<name>" or "pod/<name>") and returns the base URL; the forward
// stops with the test.
func portForwardTo(t *testing.T, ns, target string, port int) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	//nolint:gosec // G204: the kubectl the Makefile passes in
	cmd := exec.CommandContext(ctx, e2e.kubectl, "--kubeconfig", e2e.kubeconfig, "-n", ns, "port-forward",
		"--address", "127.0.0.1", target, fmt.Sprintf(":%d", port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		for sc.Scan() { // keep draining so kubectl never blocks on a full pipe
		}
	}()
	select {
	case p := <-found:
		return "http://127.0.0.1:" + p
	case <-time.After(30 * time.Second):
		t.Fatalf("kubectl port-forward to %s/%s did not start: %s", ns, target, stderr.String())
	}
	return ""
}

// diagnose prints what explains a failure: the operator's logs, the events,
// the descriptions of the pods of the namespaces involved, then the
// ChatHubs' status and their pods' logs.
func diagnose(t *testing.T, namespaces ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	section := func(title string, out string, err error) {
		if err != nil {
			out += "\n" + err.Error()
		}
		t.Logf("==== %s ====\n%s", title, out)
	}
	out, err := kubectl(ctx, "", "-n", operatorNS, "logs", "deployment/"+operatorDeploy, "--all-containers", "--tail=300")
	section("operator logs", out, err)
	out, err = kubectl(ctx, "", "get", "events", "-A", "--sort-by=.lastTimestamp")
	section("events", out, err)
	for _, ns := range append([]string{operatorNS}, namespaces...) {
		out, err = kubectl(ctx, "", "-n", ns, "get", "chathubs,deployments,services,secrets,pods", "-o", "wide")
		section("objects in "+ns, out, err)
		out, err = kubectl(ctx, "", "-n", ns, "describe", "pods")
		section("pods in "+ns, out, err)
	}
	// Last, so that a shortened output still shows them: what the hubs report
	// and what their pods logged.
	for _, ns := range namespaces {
		out, err = kubectl(ctx, "", "-n", ns, "get", "chathubs", "-o", "yaml")
		section("ChatHubs in "+ns, out, err)
		out, err = kubectl(ctx, "", "-n", ns, "logs", "-l", "app.kubernetes.io/instance", "--all-containers",
			"--prefix", "--tail=60", "--max-log-requests=10")
		section("pod logs in "+ns, out, err)
	}
}

// condition returns the status and reason of one condition of a ChatHub.
func condition(ctx context.Context, ns, name, typ string) (status, reason string) {
	out := jsonpath(ctx, ns, "chathub/"+name, ".status.conditions")
	var conds []struct{ Type, Status, Reason string }
	_ = json.Unmarshal([]byte(out), &conds)
	for _, c := range conds {
		if c.Type == typ {
			return c.Status, c.Reason
		}
	}
	return "", ""
}

// decodeBase64 decodes a Secret's data field.
func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}
