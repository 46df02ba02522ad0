// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// loadManagerConfig configures the manager the way runManager does, with
// env as the environment.
func loadManagerConfig(args []string, env map[string]string) (managerConfig, error) {
	cfg := defaultManagerConfig()
	cfg.LoadEnv(func(k string) string { return env[k] })
	return cfg, configure("manager", args, &cfg)
}

func TestManagerConfig(t *testing.T) {
	t.Parallel()
	defaults := defaultManagerConfig()
	with := func(mutate func(*managerConfig)) managerConfig {
		c := defaults
		mutate(&c)
		return c
	}
	tests := map[string]struct {
		args    []string
		env     string
		want    managerConfig
		wantErr string
	}{
		"defaults are secure metrics on :8443 and all namespaces": {
			args: []string{"--default-chat-image", "chathub:1"},
			want: managerConfig{MetricsAddr: ":8443", SecureMetrics: true, ProbeAddr: ":8081", MaxConcurrentReconciles: 4, DefaultChatImage: "chathub:1"},
		},
		"the image comes from CHATHUB_IMAGE when the flag is absent": {
			env:  "chathub:env",
			want: with(func(c *managerConfig) { c.DefaultChatImage = "chathub:env" }),
		},
		"the flag wins over CHATHUB_IMAGE": {
			args: []string{"--default-chat-image=chathub:flag"}, env: "chathub:env",
			want: with(func(c *managerConfig) { c.DefaultChatImage = "chathub:flag" }),
		},
		"every flag is read": {
			args: []string{"--default-chat-image=i", "--watch-namespaces", " team-a, ,team-b ", "--leader-elect",
				"--leader-election-namespace=ops", "--max-concurrent-reconciles=8", "--metrics-bind-address=0",
				"--metrics-secure=false", "--health-probe-bind-address=:9090", "--zap-devel"},
			want: managerConfig{MetricsAddr: "0", ProbeAddr: ":9090", LeaderElect: true, LeaderElectionNamespace: "ops",
				WatchNamespaces: " team-a, ,team-b ", MaxConcurrentReconciles: 8, DefaultChatImage: "i", DevelopmentLogs: true},
		},
		"no image at all is a usage error": {
			wantErr: "usage error: --default-chat-image (or CHATHUB_IMAGE) is required: the image the chat server pods run",
		},
		"zero concurrent reconciles is refused": {
			args:    []string{"--default-chat-image=i", "--max-concurrent-reconciles=0"},
			wantErr: "usage error: --max-concurrent-reconciles must be at least 1",
		},
		"an unknown flag is a usage error": {
			args: []string{"--default-chat-image=i", "--bogus"}, wantErr: "usage error: flag provided but not defined: -bogus",
		},
		"a stray argument is a usage error": {
			args: []string{"--default-chat-image=i", "extra"}, wantErr: `usage error: unexpected arguments ["extra"]`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := loadManagerConfig(tc.args, map[string]string{envChatImage: tc.env})
			if tc.wantErr != "" {
				if !errors.Is(err, errUsage) || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want the usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// runManager stops at the configuration before it touches Kubernetes.
func TestRunManagerRejectsBadFlags(t *testing.T) {
	t.Setenv(envChatImage, "")
	if err := runManager(t.Context(), []string{"--max-concurrent-reconciles=4"}); !errors.Is(err, errUsage) {
		t.Fatalf("got %v, want the usage error for the missing image", err)
	}
}

func TestManagerOptions(t *testing.T) {
	t.Parallel()
	scheme := runtime.NewScheme()
	c := defaultManagerConfig()
	c.WatchNamespaces = " team-a, ,team-b "
	c.LeaderElect, c.LeaderElectionNamespace, c.ProbeAddr = true, "ops", ":9090"
	o := c.managerOptions(scheme)
	if o.Scheme != scheme || o.HealthProbeBindAddress != ":9090" || !o.LeaderElection ||
		o.LeaderElectionID != "chathub-operator.chat.webpubsub.dev" || o.LeaderElectionNamespace != "ops" {
		t.Fatalf("manager options %+v do not follow the config", o)
	}
	if o.Metrics.BindAddress != ":8443" || !o.Metrics.SecureServing || o.Metrics.FilterProvider == nil {
		t.Fatalf("metrics %+v, want HTTPS on :8443 with authentication and authorization", o.Metrics)
	}
	if diff := cmp.Diff(map[string]cache.Config{"team-a": {}, "team-b": {}}, o.Cache.DefaultNamespaces); diff != "" {
		t.Errorf("watched namespaces (-want +got):\n%s", diff)
	}
	// The cache holds only the operator's own objects of the kinds it creates.
	kinds := map[string]bool{}
	for obj, by := range o.Cache.ByObject {
		if by.Label == nil || by.Label.String() != "app.kubernetes.io/managed-by=chathub-operator" {
			t.Errorf("cache of %T selects %v, want the operator's managed-by label", obj, by.Label)
		}
		kinds[fmt.Sprintf("%T", obj)] = true
	}
	for _, k := range []string{"*v1.Secret", "*v1.Deployment", "*v1.Service", "*v1.Ingress", "*v1.PodDisruptionBudget"} {
		if !kinds[k] {
			t.Errorf("the cache holds every %s of the cluster, want only the operator's", k)
		}
	}

	c = defaultManagerConfig()
	c.SecureMetrics = false
	o = c.managerOptions(scheme)
	if o.Metrics.SecureServing || o.Metrics.FilterProvider != nil || o.Cache.DefaultNamespaces != nil {
		t.Fatalf("metrics %+v, cache %+v; want plain HTTP metrics and every namespace", o.Metrics, o.Cache)
	}
}
