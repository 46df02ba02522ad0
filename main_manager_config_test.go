// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/chathub/chathub/internal/cli"
	"github.com/chathub/chathub/internal/version"
)

// loadManagerConfig configures the manager the way runManager does, with
// env as the environment.
func loadManagerConfig(args []string, env map[string]string) (managerConfig, error) {
	cfg := defaultManagerConfig()
	cfg.LoadEnv(func(k string) string { return env[k] })
	return cfg, cli.Configure("manager", args, &cfg)
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
		"defaults are secure metrics and probes on loopback and all namespaces": {
			args: []string{"--default-chat-image", "chathub:1"},
			want: managerConfig{MetricsAddr: "127.0.0.1:8443", SecureMetrics: true, ProbeAddr: "127.0.0.1:8081", MaxConcurrentReconciles: 4,
				DefaultChatImage: "chathub:1", NATSImage: "nats:2.15.2"},
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
				"--metrics-secure=false", "--health-probe-bind-address=:9090", "--kubeconfig=/etc/kube/config",
				"--nats-image=registry.example/nats:2.15.2"},
			want: managerConfig{MetricsAddr: "0", ProbeAddr: ":9090", LeaderElect: true, LeaderElectionNamespace: "ops",
				WatchNamespaces: " team-a, ,team-b ", MaxConcurrentReconciles: 8, DefaultChatImage: "i",
				Kubeconfig: "/etc/kube/config", NATSImage: "registry.example/nats:2.15.2"},
		},
		"no image at all is a usage error": {
			wantErr: "usage error: --default-chat-image (or CHATHUB_IMAGE) is required: the image the chat server pods run",
		},
		"an empty NATS image is refused": {
			args:    []string{"--default-chat-image=i", "--nats-image= "},
			wantErr: "usage error: --nats-image must name an image: the NATS servers of WebPubSubServices with spec.nats.managed",
		},
		"zero concurrent reconciles is refused": {
			args:    []string{"--default-chat-image=i", "--max-concurrent-reconciles=0"},
			wantErr: "usage error: --max-concurrent-reconciles must be at least 1",
		},
		"no probe address is refused": {
			args:    []string{"--default-chat-image=i", "--health-probe-bind-address=0"},
			wantErr: "usage error: --health-probe-bind-address must be an address: the kubelet probes /healthz and /readyz",
		},
		"an unknown flag is a usage error": {
			args: []string{"--default-chat-image=i", "--bogus"}, wantErr: "usage error: unknown flag --bogus (--help lists the flags)",
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
				if !errors.Is(err, cli.ErrUsage) || err.Error() != tc.wantErr {
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

func TestManagerLogFlags(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args                  []string
		wantFormat, wantLevel string
		wantDeprecated        bool
		wantErr               string
	}{
		"text and info by default":              {wantFormat: "text", wantLevel: "info"},
		"--log-format and --log-level":          {args: []string{"--log-format=json", "--log-level=warn"}, wantFormat: "json", wantLevel: "warn"},
		"--zap-devel stands for text and debug": {args: []string{"--zap-devel"}, wantFormat: "text", wantLevel: "debug", wantDeprecated: true},
		"a later --log-format wins over --zap-devel": {
			args: []string{"--zap-devel", "--log-format=json"}, wantFormat: "json", wantLevel: "debug", wantDeprecated: true,
		},
		"--zap-devel=false changes nothing": {args: []string{"--zap-devel=false"}, wantFormat: "text", wantLevel: "info"},
		"--zap-devel with a bad value":      {args: []string{"--zap-devel=maybe"}, wantErr: `usage error: --zap-devel "maybe" is not true or false`},
		"a bad --log-format":                {args: []string{"--log-format=xml"}, wantErr: `usage error: --log-format "xml" is not text or json`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := defaultManagerConfig()
			cfg.DefaultChatImage = "i"
			logs := cli.NewLogConfig()
			devel := &zapDevel{logs: logs}
			err := cli.Configure("manager", tc.args, logs, devel, &cfg)
			if tc.wantErr != "" {
				if !errors.Is(err, cli.ErrUsage) || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want the usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if logs.Format != tc.wantFormat || logs.Level != tc.wantLevel || devel.used != tc.wantDeprecated {
				t.Errorf("format %q, level %q, deprecated flag used %v; want %q, %q, %v",
					logs.Format, logs.Level, devel.used, tc.wantFormat, tc.wantLevel, tc.wantDeprecated)
			}
		})
	}
}

// runManager stops at the configuration before it touches Kubernetes.
func TestRunManagerRejectsBadFlags(t *testing.T) {
	t.Setenv(envChatImage, "")
	if err := runManager(t.Context(), []string{"--max-concurrent-reconciles=4"}); !errors.Is(err, cli.ErrUsage) {
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
	if o.Metrics.BindAddress != "127.0.0.1:8443" || !o.Metrics.SecureServing || o.Metrics.FilterProvider == nil {
		t.Fatalf("metrics %+v, want HTTPS on 127.0.0.1:8443 with authentication and authorization", o.Metrics)
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

// writeKubeconfig writes a kubeconfig whose current context names server
// and returns its path.
func writeKubeconfig(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "` + server + `"}
users:
- name: u
  user: {token: t}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
`
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --kubeconfig wins over KUBECONFIG; without it, KUBECONFIG is used as
// before. Not parallel: it sets KUBECONFIG.
func TestManagerRestConfig(t *testing.T) {
	t.Setenv("KUBECONFIG", writeKubeconfig(t, "https://127.0.0.1:7001"))
	flagPath := writeKubeconfig(t, "https://127.0.0.1:7002")
	for _, tc := range []struct {
		args     []string
		wantHost string
	}{
		{[]string{"--default-chat-image=i"}, "https://127.0.0.1:7001"},
		{[]string{"--default-chat-image=i", "--kubeconfig", flagPath}, "https://127.0.0.1:7002"},
	} {
		cfg, err := loadManagerConfig(tc.args, nil)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := cfg.restConfig()
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if rc.Host != tc.wantHost || rc.BearerToken != "t" || rc.QPS != -1 {
			t.Errorf("%v: host %q, token %q, QPS %v; want %s, the file's token, no client-side rate limit",
				tc.args, rc.Host, rc.BearerToken, rc.QPS, tc.wantHost)
		}
	}
	cfg := managerConfig{Kubeconfig: filepath.Join(t.TempDir(), "missing")}
	if _, err := cfg.restConfig(); err == nil || !strings.Contains(err.Error(), "--kubeconfig "+cfg.Kubeconfig) {
		t.Fatalf("a missing --kubeconfig file gave %v, want an error naming it", err)
	}
}

// The manager's registry, which its /metrics serves, holds
// chathub_build_info.
func TestManagerBuildInfo(t *testing.T) {
	registerBuildInfo()
	registerBuildInfo() // a second call is harmless
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "chathub_build_info" {
			continue
		}
		labels := map[string]string{}
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		want := version.Get()
		if labels["version"] != want.Version || labels["commit"] != want.Commit || labels["goversion"] != want.GoVersion ||
			f.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Fatalf("chathub_build_info %v = %v, want the labels of %+v and 1", labels, f.GetMetric()[0].GetGauge().GetValue(), want)
		}
		return
	}
	t.Fatal("controller-runtime's registry has no chathub_build_info")
}
