// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cli

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chathub/chathub/pubsub"
)

// The access key, endpoint and connection string rules are tested with
// pubsub.CommandConfig in pubsub/flags_test.go and pubsub/command_test.go;
// these tests pin what the shell adds: which mistakes are usage errors
// (exit 2) and which are not (exit 1). Every case fails before listening.
func TestPubSubRejectsBadFlags(t *testing.T) {
	t.Setenv(pubsub.EnvAccessKey, "")
	t.Setenv(pubsub.EnvOldAccessKey, "")
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"an unknown flag":            {[]string{"--nope"}, "usage error: unknown flag --nope (--help lists the flags)"},
		"a bad log level":            {[]string{"--log-level", "loud"}, `usage error: --log-level "loud" is not debug, info, warn or error`},
		"a stray argument":           {[]string{"extra"}, `usage error: unexpected arguments ["extra"]`},
		"a short access key":         {[]string{"--access-key", "short"}, "usage error: access key is 5 characters long, it must be at least 32"},
		"an endpoint with a path":    {[]string{"--endpoint", "http://svc/base"}, `usage error: --endpoint "http://svc/base" must not have a path`},
		"an endpoint with user info": {[]string{"--endpoint", "http://u:pw@svc"}, "usage error: --endpoint must not have user info (user:password@)"},
		"three key files": {
			[]string{"--access-key-file", "a", "--access-key-file", "b", "--access-key-file", "c"},
			"usage error: --access-key-file is given 3 times, at most 2 (the primary and the secondary key)",
		},
		"a negative reload interval": {[]string{"--reload-interval", "-1s"}, "usage error: the reload interval (--reload-interval) must not be negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := RunPubSub(t.Context(), tc.args)
			if !errors.Is(err, ErrUsage) || err.Error() != tc.wantErr {
				t.Fatalf("got %v, want the usage error %q", err, tc.wantErr)
			}
		})
	}
}

func TestPubSubKeySources(t *testing.T) {
	t.Run("a bad key in the environment is a usage error", func(t *testing.T) {
		t.Setenv(pubsub.EnvAccessKey, "short-key-from-a-secret")
		err := RunPubSub(t.Context(), nil)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "at least 32") || strings.Contains(err.Error(), "short-key") {
			t.Fatalf("got %v, want a usage error that does not show the key", err)
		}
	})
	t.Run("an unreadable key file is not a usage error", func(t *testing.T) {
		t.Setenv(pubsub.EnvAccessKey, "")
		t.Setenv(pubsub.EnvOldAccessKey, "")
		err := RunPubSub(t.Context(), []string{"--access-key-file", filepath.Join(t.TempDir(), "nope")})
		if err == nil || errors.Is(err, ErrUsage) || !strings.HasPrefix(err.Error(), "reading --access-key-file: ") {
			t.Fatalf("got %v, want a plain error about the key file", err)
		}
	})
}
