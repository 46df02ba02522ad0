package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/controllers"
	"github.com/chathub/chathub/webpubsub"
)

// managerConfig is the configuration of the 'manager' subcommand.
type managerConfig struct {
	MetricsAddr             string
	SecureMetrics           bool
	ProbeAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	WatchNamespaces         []string
	MaxConcurrentReconciles int
	DefaultChatImage        string
	DevelopmentLogs         bool
}

// Validate reports the first mistake in c.
func (c *managerConfig) Validate() error {
	if c.DefaultChatImage == "" {
		return fmt.Errorf("%w: --default-chat-image (or CHATHUB_IMAGE) is required: the image the chat server pods run", errUsage)
	}
	if c.MaxConcurrentReconciles < 1 {
		return fmt.Errorf("%w: --max-concurrent-reconciles must be at least 1", errUsage)
	}
	return nil
}

// parseManagerFlags reads the manager's flags; CHATHUB_IMAGE is the default
// of --default-chat-image.
func parseManagerFlags(args []string) (*managerConfig, error) {
	c := &managerConfig{}
	fs := flag.NewFlagSet("chathub manager", flag.ContinueOnError)
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; \"0\" disables it.")
	fs.BoolVar(&c.SecureMetrics, "metrics-secure", true, "Serve metrics over HTTPS with Kubernetes authentication and authorization.")
	fs.StringVar(&c.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&c.LeaderElect, "leader-elect", false, "Elect a leader so only one replica reconciles.")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	namespaces := fs.String("watch-namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	fs.IntVar(&c.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "ChatHubs reconciled in parallel.")
	fs.StringVar(&c.DefaultChatImage, "default-chat-image", os.Getenv("CHATHUB_IMAGE"), "Image of the chat server when a ChatHub names none (env CHATHUB_IMAGE).")
	fs.BoolVar(&c.DevelopmentLogs, "zap-devel", false, "Human-readable development logs instead of JSON.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	for _, ns := range strings.Split(*namespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			c.WatchNamespaces = append(c.WatchNamespaces, ns)
		}
	}
	return c, c.Validate()
}

// runManager runs the 'manager' subcommand: the ChatHub operator.
func runManager(ctx context.Context, args []string) error {
	cfg, err := parseManagerFlags(args)
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(cfg.DevelopmentLogs)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(chatv1.AddToScheme(scheme))

	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading the Kubernetes configuration: %w", err)
	}
	metricsOpts := metricsserver.Options{BindAddress: cfg.MetricsAddr, SecureServing: cfg.SecureMetrics}
	if cfg.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	var cacheOpts cache.Options
	if len(cfg.WatchNamespaces) > 0 {
		cacheOpts.DefaultNamespaces = make(map[string]cache.Config, len(cfg.WatchNamespaces))
		for _, ns := range cfg.WatchNamespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  cfg.ProbeAddr,
		LeaderElection:          cfg.LeaderElect,
		LeaderElectionID:        "chathub-operator.chat.webpubsub.dev",
		LeaderElectionNamespace: cfg.LeaderElectionNamespace,
		Cache:                   cacheOpts,
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}

	// Azure sources need a Microsoft Entra credential; without one the
	// operator still runs and reports CredentialUnavailable on those hubs.
	var entra webpubsub.TokenSource
	if ts, err := webpubsub.DefaultEntraTokenSource(); err != nil {
		log.Info("No Microsoft Entra credential; ChatHubs with an Azure source will report CredentialUnavailable", "reason", err.Error())
	} else {
		entra = ts
	}

	r := &controllers.ChatHubReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Scheme:                  mgr.GetScheme(),
		Recorder:                mgr.GetEventRecorder("chathub-operator"),
		DefaultImage:            cfg.DefaultChatImage,
		Registrar:               controllers.HubsRegistrar{},
		EntraTokens:             entra,
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ChatHub controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	log.Info("Starting the manager", "watchNamespaces", cfg.WatchNamespaces, "defaultChatImage", cfg.DefaultChatImage)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}
