// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/controllers"
	"github.com/chathub/chathub/internal/cli"
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
	if err := cli.Configure("manager", args, &cfg); err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(cfg.DevelopmentLogs)))
	log := ctrl.Log.WithName("setup")

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
		Recorder: mgr.GetEventRecorder("chathub-operator"), DefaultImage: cfg.DefaultChatImage}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the WebPubSubService controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}
	log.Info("Starting the manager", "watchNamespaces", cfg.namespaces(), "defaultChatImage", cfg.DefaultChatImage)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	return nil
}
