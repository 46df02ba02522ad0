// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build linux

package operator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ChatHubs is the resource of the ChatHub custom resource.
var ChatHubs = schema.GroupVersionResource{Group: "chat.webpubsub.dev", Version: "v1", Resource: "chathubs"}

// ManagedBy is the label selector of the objects the operator creates.
const ManagedBy = "app.kubernetes.io/managed-by=chathub-operator"

// Env is a kube-apiserver and etcd with the ChatHub CRD installed.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for Config.
	Kubeconfig string
	// Kube and Dynamic are clients of Config.
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface

	env *envtest.Environment
}

// ModuleRoot is the folder of the go.mod of the module being tested.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}

// StartEnv starts etcd and kube-apiserver from $KUBEBUILDER_ASSETS (or
// <root>/bin/k8s) with the CRDs of <root>/config/crd/bases, and writes a
// kubeconfig into dir.
func StartEnv(root, dir string) (*Env, error) {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// Room for the Services of hundreds of ChatHubs.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		env.BinaryAssetsDirectory = filepath.Join(root, "bin", "k8s")
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest (set KUBEBUILDER_ASSETS to a folder with kube-apiserver and etcd): %w", err)
	}
	e := &Env{Config: cfg, env: env}
	fail := func(err error) (*Env, error) {
		_ = env.Stop()
		return nil, err
	}
	user, err := env.AddUser(envtest.User{Name: "chathub-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fail(fmt.Errorf("adding the manager's user: %w", err))
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fail(fmt.Errorf("writing the kubeconfig: %w", err))
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kc, 0o600); err != nil {
		return fail(err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 500, 1000
	if e.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return fail(err)
	}
	if e.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return fail(err)
	}
	return e, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error { return e.env.Stop() }

// BuildManager builds the chathub binary of the module at root into dir and
// returns its path.
func BuildManager(root, dir string) (string, error) {
	bin := filepath.Join(dir, "chathub")
	cmd := exec.Command("go", "build", "-o", bin, ".") //nolint:gosec // G204: bin is a path in the caller's folder
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// Manager is a running 'chathub manager' process.
type Manager struct {
	cmd        *exec.Cmd
	metricsURL string
	probeURL   string
	done       chan struct{}
	err        error
}

// freePort returns a loopback port nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartManager runs 'bin manager' against the API server of kubeconfig,
// with plain-HTTP metrics on a loopback port, its output going to logw, and
// waits until it is ready.
func StartManager(ctx context.Context, bin, kubeconfig string, logw io.Writer, args ...string) (*Manager, error) {
	m, err := LaunchManager(bin, kubeconfig, logw, args...)
	if err != nil {
		return nil, err
	}
	if err := m.WaitProbe(ctx, "/readyz"); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// LaunchManager is StartManager without the wait: the manager may not be
// serving its probes yet.
func LaunchManager(bin, kubeconfig string, logw io.Writer, args ...string) (*Manager, error) {
	mport, err := freePort()
	if err != nil {
		return nil, err
	}
	pport, err := freePort()
	if err != nil {
		return nil, err
	}
	args = append([]string{"manager",
		"--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(mport), "--metrics-secure=false",
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(pport),
		"--default-chat-image", "example.com/chathub:test",
	}, args...)
	cmd := exec.Command(bin, args...) //nolint:gosec // G204: bin is the manager binary under test, by design
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	m := &Manager{cmd: cmd, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport),
		probeURL: fmt.Sprintf("http://127.0.0.1:%d", pport), done: make(chan struct{})}
	go func() { m.err = cmd.Wait(); close(m.done) }()
	return m, nil
}

// Probe is the status code of the manager's probe at path (/healthz,
// /readyz), or an error when it does not answer.
func (m *Manager) Probe(path string) (int, error) {
	resp, err := http.Get(m.probeURL + path)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// WaitProbe waits until the manager's probe at path answers 200; it fails
// when the manager exits or ctx ends first.
func (m *Manager) WaitProbe(ctx context.Context, path string) error {
	for {
		select {
		case <-m.done:
			return fmt.Errorf("the manager exited: %w", m.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if code, err := m.Probe(path); err == nil && code == http.StatusOK {
			return nil
		}
	}
}

// KubeconfigFor writes into dir a kubeconfig of a new user called name,
// with no permission until a binding grants it some, and returns its path.
func (e *Env) KubeconfigFor(dir, name string) (string, error) {
	user, err := e.env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		return "", fmt.Errorf("adding the user %s: %w", name, err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("writing the kubeconfig of %s: %w", name, err)
	}
	path := filepath.Join(dir, name+".kubeconfig")
	return path, os.WriteFile(path, kc, 0o600)
}

// Stop interrupts the manager and waits for it to exit (killing it after 10 s).
func (m *Manager) Stop() {
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

// Exited reports whether the process has exited, and how.
func (m *Manager) Exited() (bool, error) {
	select {
	case <-m.done:
		return true, m.err
	default:
		return false, nil
	}
}

// RSS is the manager process's resident set size (VmRSS) in bytes.
func (m *Manager) RSS() (int64, error) { return m.status("VmRSS:") }

// PeakRSS is the manager process's peak resident set size (VmHWM) in bytes.
func (m *Manager) PeakRSS() (float64, error) {
	n, err := m.status("VmHWM:")
	return float64(n), err
}

// status reads a size in kB from the field of /proc/<pid>/status.
func (m *Manager) status(field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", m.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, m.cmd.Process.Pid)
}

// Metrics scrapes the manager's /metrics and returns the sum of the samples
// of each metric name whose labels contain every label of match
// (e.g. `controller="chathub"`).
func (m *Manager) Metrics(match ...string) (map[string]float64, error) {
	resp, err := http.Get(m.metricsURL)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	out := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64<<10), 1<<20)
lines:
	for s.Scan() {
		line := s.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series, value := line[:sp], line[sp+1:]
		name, labels, _ := strings.Cut(series, "{")
		for _, l := range match {
			if !strings.Contains(labels, l) {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, s.Err()
}

// FakeKubelet marks every Deployment the operator creates available, as a
// kubelet and the Deployment controller would (envtest runs neither), until
// ctx ends.
func FakeKubelet(ctx context.Context, kube kubernetes.Interface, workers int) {
	work := make(chan *appsv1.Deployment, 1024)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for d := range work {
				markAvailable(ctx, kube, d)
			}
		})
	}
	defer wg.Wait()
	defer close(work)
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			list, err := kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: ManagedBy})
			if err != nil {
				sleep(ctx, 200*time.Millisecond)
				continue
			}
			for i := range list.Items {
				work <- &list.Items[i]
			}
			rv = list.ResourceVersion
		}
		w, err := kube.AppsV1().Deployments("").Watch(ctx, metav1.ListOptions{LabelSelector: ManagedBy, ResourceVersion: rv})
		if err != nil {
			rv = ""
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			d, ok := ev.Object.(*appsv1.Deployment)
			if !ok {
				rv = "" // an error (e.g. resourceVersion too old): list again
				break
			}
			rv = d.ResourceVersion
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				work <- d
			}
		}
		w.Stop()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// available reports whether d's status already says all is up.
func available(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == replicas(d)
		}
	}
	return false
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas != nil {
		return *d.Spec.Replicas
	}
	return 1
}

func markAvailable(ctx context.Context, kube kubernetes.Interface, d *appsv1.Deployment) {
	for attempt := 0; attempt < 5 && !available(d) && ctx.Err() == nil; attempt++ {
		n := replicas(d)
		d = d.DeepCopy()
		now := metav1.Now()
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation,
			Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
				LastUpdateTime: now, LastTransitionTime: now,
			}},
		}
		_, err := kube.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return
		}
		if d, err = kube.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{}); err != nil {
			return
		}
	}
}

// AccessKey is a well-formed access key (43 characters) of no service.
const AccessKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"

// ConnectionSecret returns a Secret holding a connection string to
// endpoint under key connectionString.
func ConnectionSecret(ns, name, endpoint string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		StringData: map[string]string{"connectionString": "Endpoint=" + endpoint + ";AccessKey=" + AccessKey + ";Version=1.0;"},
	}
}

// ConnectionStringHub returns a ChatHub for hub (the Web PubSub hub name;
// "" for the default) taking its connection string from Secret secret,
// with the event handler registered by hand (registration Manual), so that
// nothing needs to be reachable.
func ConnectionStringHub(ns, name, hub, secret string) *unstructured.Unstructured {
	spec := map[string]any{
		"webPubSub":    map[string]any{"connectionStringSecretRef": map[string]any{"name": secret}},
		"eventHandler": map[string]any{"registration": "Manual"},
	}
	if hub != "" {
		spec["hub"] = hub
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "chat.webpubsub.dev/v1",
		"kind":       "ChatHub",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}}
}

// Condition returns the condition typ of a ChatHub: status, reason and
// message ("" when absent).
func Condition(hub *unstructured.Unstructured, typ string) (status, reason, message string) {
	conds, _, _ := unstructured.NestedSlice(hub.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != typ {
			continue
		}
		s, _ := m["status"].(string)
		r, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		return s, r, msg
	}
	return "", "", ""
}

// CreateNamespace creates namespace ns.
func CreateNamespace(ctx context.Context, kube kubernetes.Interface, ns string) error {
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	return err
}
