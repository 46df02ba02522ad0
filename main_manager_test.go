package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseManagerFlags(t *testing.T) {
	tests := map[string]struct {
		args    []string
		env     string
		want    *managerConfig
		wantErr bool
	}{
		"defaults are secure metrics on :8443 and all namespaces": {
			args: []string{"--default-chat-image", "chathub:1"},
			want: &managerConfig{MetricsAddr: ":8443", SecureMetrics: true, ProbeAddr: ":8081", MaxConcurrentReconciles: 4, DefaultChatImage: "chathub:1"},
		},
		"the image comes from CHATHUB_IMAGE when the flag is absent": {
			env:  "chathub:env",
			want: &managerConfig{MetricsAddr: ":8443", SecureMetrics: true, ProbeAddr: ":8081", MaxConcurrentReconciles: 4, DefaultChatImage: "chathub:env"},
		},
		"a namespace list is split and trimmed": {
			args: []string{"--default-chat-image=i", "--watch-namespaces", " team-a, ,team-b ", "--leader-elect", "--max-concurrent-reconciles=8"},
			want: &managerConfig{MetricsAddr: ":8443", SecureMetrics: true, ProbeAddr: ":8081", LeaderElect: true,
				WatchNamespaces: []string{"team-a", "team-b"}, MaxConcurrentReconciles: 8, DefaultChatImage: "i"},
		},
		"no image at all is a usage error":      {wantErr: true},
		"zero concurrent reconciles is refused": {args: []string{"--default-chat-image=i", "--max-concurrent-reconciles=0"}, wantErr: true},
		"an unknown flag is a usage error":      {args: []string{"--default-chat-image=i", "--bogus"}, wantErr: true},
		"a stray argument is a usage error":     {args: []string{"--default-chat-image=i", "extra"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("CHATHUB_IMAGE", tc.env)
			got, err := parseManagerFlags(tc.args)
			if tc.wantErr {
				if !errors.Is(err, errUsage) {
					t.Fatalf("err = %v, want a usage error", err)
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
