// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/chathub/chathub/controllers"
	"github.com/chathub/chathub/internal/cli"
	"github.com/chathub/chathub/internal/envvar"
)

// zapDevel is the deprecated --zap-devel flag of the manager, which logged
// through zap: it now stands for --log-format text --log-level debug, in
// its place on the command line (a later --log-format or --log-level
// wins), and the manager warns that it is deprecated.
type zapDevel struct {
	logs *cli.LogConfig
	used bool
}

// BindFlags registers --zap-devel.
func (z *zapDevel) BindFlags(fs *flag.FlagSet) {
	fs.Var(z, "zap-devel", "Deprecated: use --log-format text --log-level debug, which it stands for.")
}

// Validate accepts every use: the flag package has parsed the boolean.
func (z *zapDevel) Validate() error { return nil }

// IsBoolFlag lets --zap-devel stand alone, as before.
func (z *zapDevel) IsBoolFlag() bool { return true }

func (z *zapDevel) String() string { return "false" }

func (z *zapDevel) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("not true or false")
	}
	if on {
		z.logs.Format, z.logs.Level, z.used = "text", "debug", true
	}
	return nil
}

// envChatImage is the environment variable holding the default of
// --default-chat-image: the operator's own image.
const envChatImage = envvar.Prefix + "IMAGE"

// managerEnvVars are the environment variables of the manager besides the
// logging ones (cli.LogEnvVars).
var managerEnvVars = []envvar.Var{{Name: envChatImage, Usage: "the default of --default-chat-image"}}

// The default addresses of the metrics and probe endpoints: loopback, so a
// manager run by hand is not reachable from the network. In a pod the
// kubelet probes the pod IP and Prometheus scrapes it, so the chart and
// config/manager pass :8443 and :8081 explicitly.
const (
	defaultMetricsAddr = "127.0.0.1:8443"
	defaultProbeAddr   = "127.0.0.1:8081"
)

// leaderElectionID names the Lease the manager replicas elect a leader with.
const leaderElectionID = "chathub-operator.chat.webpubsub.dev"

// managerConfig is the configuration of the 'manager' subcommand: defaults
// from defaultManagerConfig, then the environment (LoadEnv), then flags
// (BindFlags), checked by Validate. managerOptions translates it into the
// controller-runtime manager's options.
type managerConfig struct {
	MetricsAddr             string
	SecureMetrics           bool
	ProbeAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	// WatchNamespaces is the comma-separated list as given; see namespaces.
	WatchNamespaces         string
	MaxConcurrentReconciles int
	DefaultChatImage        string
	// NATSImage runs the managed NATS of WebPubSubServices that name none.
	NATSImage string
	// Kubeconfig is the path of --kubeconfig; empty uses ctrl.GetConfig's
	// search (KUBECONFIG, in-cluster, ~/.kube/config).
	Kubeconfig string
}

// defaultManagerConfig returns the configuration used when nothing overrides it.
func defaultManagerConfig() managerConfig {
	return managerConfig{
		MetricsAddr:             defaultMetricsAddr,
		SecureMetrics:           true,
		ProbeAddr:               defaultProbeAddr,
		MaxConcurrentReconciles: 4,
		NATSImage:               controllers.DefaultNATSImage,
	}
}

// LoadEnv applies the environment (read through getenv) to c.
func (c *managerConfig) LoadEnv(getenv func(string) string) {
	if v, _ := managerEnvVars[0].Lookup(getenv); v != "" {
		c.DefaultChatImage = strings.TrimSpace(v)
	}
}

// BindFlags registers the manager's flags on fs, with c's current values as
// defaults, so parsing fs overrides c.
func (c *managerConfig) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", c.MetricsAddr, "Address of the metrics endpoint; \"0\" disables it; \":8443\" serves every interface (in a pod).")
	fs.BoolVar(&c.SecureMetrics, "metrics-secure", c.SecureMetrics, "Serve metrics over HTTPS with Kubernetes authentication and authorization.")
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", c.ProbeAddr, "Address of the /healthz and /readyz endpoints; \":8081\" serves every interface (in a pod, for the kubelet).")
	fs.BoolVar(&c.LeaderElect, "leader-elect", c.LeaderElect, "Elect a leader so only one replica reconciles.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", c.LeaderElectionNamespace, "Namespace of the leader election Lease (default: the pod's namespace).")
	fs.StringVar(&c.WatchNamespaces, "watch-namespaces", c.WatchNamespaces, "Comma-separated namespaces to watch; empty watches all.")
	fs.IntVar(&c.MaxConcurrentReconciles, "max-concurrent-reconciles", c.MaxConcurrentReconciles, "ChatHubs reconciled in parallel.")
	fs.StringVar(&c.DefaultChatImage, "default-chat-image", c.DefaultChatImage, "Image of the chat server when a ChatHub names none (env "+envChatImage+").")
	fs.StringVar(&c.NATSImage, "nats-image", c.NATSImage, "Image of the NATS servers the operator runs for WebPubSubServices with spec.nats.managed that name none (its entrypoint must be nats-server).")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "Path of the kubeconfig file; empty uses $KUBECONFIG, the in-cluster configuration or ~/.kube/config.")
}

// Validate reports the first mistake in c.
func (c *managerConfig) Validate() error {
	if c.DefaultChatImage == "" {
		return errors.New("--default-chat-image (or " + envChatImage + ") is required: the image the chat server pods run")
	}
	if strings.TrimSpace(c.NATSImage) == "" {
		return errors.New("--nats-image must name an image: the NATS servers of WebPubSubServices with spec.nats.managed")
	}
	if c.MaxConcurrentReconciles < 1 {
		return errors.New("--max-concurrent-reconciles must be at least 1")
	}
	if c.ProbeAddr == "" || c.ProbeAddr == "0" {
		return errors.New("--health-probe-bind-address must be an address: the kubelet probes /healthz and /readyz")
	}
	return nil
}

// namespaces returns the namespaces to watch, trimmed, without empty
// entries; none means all.
func (c *managerConfig) namespaces() []string {
	var out []string
	for _, ns := range strings.Split(c.WatchNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			out = append(out, ns)
		}
	}
	return out
}

// restConfig returns the configuration of the Kubernetes API client: the
// current context of the --kubeconfig file when given, else what
// ctrl.GetConfig finds. Like ctrl.GetConfig, it leaves client-side rate
// limiting off (QPS -1) unless the file sets it, relying on the API
// server's priority and fairness.
func (c *managerConfig) restConfig() (*rest.Config, error) {
	if c.Kubeconfig == "" {
		return ctrl.GetConfig()
	}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig}, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", c.Kubeconfig, err)
	}
	if rc.QPS == 0 {
		rc.QPS = -1
	}
	return rc, nil
}

// managerOptions translates c into the controller-runtime manager's options.
func (c *managerConfig) managerOptions(scheme *runtime.Scheme) ctrl.Options {
	metricsOpts := metricsserver.Options{BindAddress: c.MetricsAddr, SecureServing: c.SecureMetrics}
	if c.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  c.ProbeAddr,
		LeaderElection:          c.LeaderElect,
		LeaderElectionID:        leaderElectionID,
		LeaderElectionNamespace: c.LeaderElectionNamespace,
		Cache:                   controllers.CacheOptions(c.namespaces()),
	}
}
