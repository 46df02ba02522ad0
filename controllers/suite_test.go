// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// suite is the environment shared by the envtest tests: a real API server
// with the generated CRDs, a manager running the reconciler, the fake cluster
// network that runs the PubSub service and chat servers in-process, and a
// local Microsoft Entra token endpoint with an ARM-shaped gateway.
var suite struct {
	ctx     context.Context
	cfgErr  error
	client  client.Client
	cluster *fakeCluster
	azure   *fakeAzure
	rec     *ChatHubReconciler
	// instances is the WebPubSubService reconciler.
	instances *WebPubSubServiceReconciler
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("CHATHUB_TEST_LOG") != "" {
		logf.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	} else {
		logf.SetLogger(logr.Discard())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	suite.ctx = ctx

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// Room for the Services of hundreds of ChatHubs (the default range holds 256 IPs).
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		if dir, err := filepath.Abs(filepath.Join("..", "bin", "k8s")); err == nil {
			env.BinaryAssetsDirectory = dir
		}
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting envtest (set KUBEBUILDER_ASSETS to a folder with kube-apiserver and etcd): %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(chatv1.AddToScheme(scheme))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  CacheOptions(nil), // the production configuration
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating the manager: %v\n", err)
		return 1
	}
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "creating a client: %v\n", err)
		return 1
	}
	suite.client = direct
	suite.cluster = newFakeCluster(direct)
	defer suite.cluster.Close()
	suite.azure, err = newFakeAzure()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local Azure: %v\n", err)
		return 1
	}
	defer suite.azure.Close()

	httpClient := &http.Client{Transport: &http.Transport{DialContext: suite.cluster.DialContext}, Timeout: 10 * time.Second}
	suite.rec = &ChatHubReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder("chathub-operator"),
		DefaultImage:            "example.com/chathub:test",
		Registrar:               HubsRegistrar{HTTPClient: httpClient, PollInterval: 50 * time.Millisecond},
		EntraTokens:             webpubsub.EntraTokenSource(suite.azure.credential),
		CheckHandshake:          HTTPHandshake(httpClient),
		RetryMin:                200 * time.Millisecond,
		RetryMax:                2 * time.Second,
		Resync:                  time.Minute,
		DeleteTimeout:           3 * time.Second,
		MaxConcurrentReconciles: 8,
	}
	if err := suite.rec.SetupWithManager(mgr); err != nil {
		fmt.Fprintf(os.Stderr, "setting up the reconciler: %v\n", err)
		return 1
	}
	suite.instances = &WebPubSubServiceReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("chathub-operator"), DefaultImage: "example.com/chathub:test",
		RotationCheck: 200 * time.Millisecond, RetryInterval: time.Second,
	}
	if err := suite.instances.SetupWithManager(mgr); err != nil {
		fmt.Fprintf(os.Stderr, "setting up the WebPubSubService reconciler: %v\n", err)
		return 1
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "manager stopped: %v\n", err)
		}
	}()
	return m.Run()
}

// newNamespace creates a namespace unique to the test.
func newNamespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "t-" + hex.EncodeToString(b)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := suite.client.Create(suite.ctx, ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return name
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getHub reads a ChatHub from the API server.
func getHub(name, ns string) (*chatv1.ChatHub, error) {
	h := &chatv1.ChatHub{}
	err := suite.client.Get(suite.ctx, client.ObjectKey{Namespace: ns, Name: name}, h)
	return h, err
}

// waitCondition waits until the ChatHub's condition has the status and
// reason, for the current generation, and returns the ChatHub.
func waitCondition(t testing.TB, name, ns, typ string, status metav1.ConditionStatus, reason string) *chatv1.ChatHub {
	t.Helper()
	var hub *chatv1.ChatHub
	eventually(t, 60*time.Second, fmt.Sprintf("condition %s=%s/%s on %s/%s", typ, status, reason, ns, name), func() error {
		h, err := getHub(name, ns)
		if err != nil {
			return err
		}
		for _, c := range h.Status.Conditions {
			if c.Type != typ {
				continue
			}
			if c.Status != status || c.Reason != reason || c.ObservedGeneration != h.Generation {
				var all []string
				for _, o := range h.Status.Conditions {
					all = append(all, fmt.Sprintf("%s=%s/%s: %s", o.Type, o.Status, o.Reason, o.Message))
				}
				return fmt.Errorf("condition is %s/%s (generation %d of %d); all: %s", c.Status, c.Reason, c.ObservedGeneration, h.Generation, strings.Join(all, "; "))
			}
			hub = h
			return nil
		}
		return fmt.Errorf("no condition %s yet", typ)
	})
	return hub
}

// waitEvent waits for an event with the reason on the named object.
func waitEvent(t testing.TB, name, ns, reason, eventType string) *eventsv1.Event {
	t.Helper()
	var found *eventsv1.Event
	eventually(t, 60*time.Second, fmt.Sprintf("event %s on %s/%s", reason, ns, name), func() error {
		var list eventsv1.EventList
		if err := suite.client.List(suite.ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for i, e := range list.Items {
			if e.Regarding.Name == name && e.Reason == reason && e.Type == eventType {
				found = &list.Items[i]
				return nil
			}
			seen = append(seen, e.Reason)
		}
		return fmt.Errorf("events seen: %s", strings.Join(seen, ","))
	})
	return found
}

// embeddedHub is a ChatHub with the embedded source.
func embeddedHub(name, ns string) *chatv1.ChatHub {
	return &chatv1.ChatHub{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       chatv1.ChatHubSpec{WebPubSub: chatv1.WebPubSubSource{Embedded: &chatv1.EmbeddedSource{}}},
	}
}

// mustCreate creates obj or fails the test.
func mustCreate(t testing.TB, obj client.Object) {
	t.Helper()
	if err := suite.client.Create(suite.ctx, obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// syncMap is a tiny typed concurrent map for the fakes.
type syncMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (s *syncMap[K, V]) load(k K) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok
}

func (s *syncMap[K, V]) store(k K, v V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[K]V)
	}
	s.m[k] = v
}
