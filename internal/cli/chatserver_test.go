// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cli

import (
	"errors"
	"testing"

	"github.com/chathub/chathub/chatserver"
)

// The chat server's own rules are tested with chatserver.Config in
// chatserver/config_test.go; these tests pin what the shell adds: mistakes
// are usage errors (exit 2), found before anything listens.
func TestChatServerRejectsBadFlags(t *testing.T) {
	t.Setenv(chatserver.EnvConnectionString, "")
	t.Setenv(chatserver.EnvTutorialConnectionString, "")
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"an unknown flag":  {[]string{"--nope"}, "usage error: unknown flag --nope (--help lists the flags)"},
		"a stray argument": {[]string{"--embedded", "extra"}, `usage error: unexpected arguments ["extra"]`},
		"a bad log level":  {[]string{"--embedded", "--log-level", "loud"}, `usage error: --log-level "loud" is not debug, info, warn or error`},
		"a bad log format": {[]string{"--embedded", "--log-format", "xml"}, `usage error: --log-format "xml" is not text or json`},
		"a bad token TTL":  {[]string{"--embedded", "--token-ttl", "1s"}, "usage error: the token lifetime (--token-ttl) must be between 1m and 24h, not 1s"},
		"a zero message burst": {[]string{"--embedded", "--user-message-burst", "0"},
			"usage error: the user message burst (--user-message-burst) must be between 1 and 1000000, not 0"},
		"a bad body timeout": {[]string{"--embedded", "--read-body-timeout", "soon"},
			`usage error: --read-body-timeout "soon" is not a duration such as 30s, 5m or 1h`},
		"no connection string": {nil, "usage error: no Web PubSub connection string: set $" + chatserver.EnvConnectionString +
			" (or $" + chatserver.EnvTutorialConnectionString + ") or --connection-string-file, or use --embedded"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := RunChatServer(t.Context(), tc.args)
			if !errors.Is(err, ErrUsage) || err.Error() != tc.wantErr {
				t.Fatalf("got %v, want the usage error %q", err, tc.wantErr)
			}
		})
	}
}
