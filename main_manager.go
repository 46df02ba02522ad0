// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/controllers"
	"github.com/chathub/chathub/internal/cli"
	"github.com/chathub/chathub/internal/envvar"
	"github.com/chathub/chathub/internal/version"
	"github.com/chathub/chathub/webpubsub"
)

// registerBuildInfo adds chathub_build_info to controller-runtime's
// registry, which the manager's /metrics serves; once per process.
func registerBuildInfo() {
	if err := metrics.Registry.Register(version.NewCollector()); err != nil {
		if !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			panic(err)
		}
	}
}

// runManager runs the 'manager' subcommand: the ChatHub operator.
func runManager(ctx context.Context, args []string) error {
	cfg := defaultManagerConfig()
	cfg.LoadEnv(os.Getenv)
	logs := cli.NewLogConfig()
	logs.LoadEnv(os.Getenv)
	devel := &zapDevel{logs: logs}
	if err := cli.Configure("manager", args, logs, devel, &cfg); err != nil {
		return err
	}
	// One slog handler for the operator's logs and those of the
	// Kubernetes client libraries (klog: leader election, client-go).
	logger := logr.FromSlogHandler(logs.Handler(os.Stderr))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	log := ctrl.Log.WithName("setup")
	if devel.used {
		log.Info("The flag --zap-devel is deprecated: use --log-format text --log-level debug")
	}
	for _, d := range envvar.Deprecations(os.Getenv, append(managerEnvVars, cli.LogEnvVars...)...) {
		log.Info("Deprecated environment variable: set the new name instead", "variable", d.Used, "use", d.Name)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(chatv1.AddToScheme(scheme))

	registerBuildInfo()
	restCfg, err := cfg.restConfig()
	if err != nil {
		return fmt.Errorf("loading the Kubernetes configuration: %w", err)
	}
	mgr, err := ctrl.NewManager(restCfg, cfg.managerOptions(scheme))
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
		WatchNamespaces:         cfg.namespaces(),
		MaxConcurrentReconciles: cfg.MaxConcurrentReconciles,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ChatHub controller: %w", err)
	}
	if err := (&controllers.WebPubSubServiceReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: mgr.GetEventRecorder("chathub-operator"), DefaultImage: cfg.DefaultChatImage, NATSImage: cfg.NATSImage, WatchNamespaces: cfg.namespaces()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the WebPubSubService controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	ready := newReadiness(mgr.GetCache(), mgr.Elected(), cfg.LeaderElect)
	if err := mgr.AddReadyzCheck("controllers", ready.check); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	log.Info("Starting the manager", "watchNamespaces", cfg.namespaces(), "defaultChatImage", cfg.DefaultChatImage)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}
