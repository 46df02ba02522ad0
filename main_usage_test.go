// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// usageCase is one bad command line of a chathub binary: args and env (the
// whole environment), and the one line it must print to stderr after
// "<binary>: usage error: ".
type usageCase struct {
	args []string
	env  []string
	want string
}

// usageCases are the bad inputs of every subcommand: flags unknown, without
// a value or with a bad one, invalid settings, and bad environment
// variables under their CHATHUB_ names and the older ones.
var usageCases = map[string]usageCase{
	"no command":               {nil, nil, "no command given; run 'chathub --help' for the list"},
	"unknown command":          {[]string{"nope"}, nil, `unknown command "nope"; run 'chathub --help' for the list`},
	"version with an argument": {[]string{"version", "x"}, nil, `unexpected arguments ["x"]`},

	"chatserver: an unknown flag":      {[]string{"chatserver", "--nope"}, nil, "unknown flag --nope (--help lists the flags)"},
	"chatserver: a flag without value": {[]string{"chatserver", "--embedded", "--hub"}, nil, "--hub needs a value"},
	"chatserver: a bad hub": {[]string{"chatserver", "--embedded", "--hub", "bad hub"}, nil,
		`the hub name (--hub) is invalid: hub name "bad hub" is invalid: it must start with a letter and contain only letters, digits and _ ` + "`" + ` , . [ ]`},
	"chatserver: a bad duration": {[]string{"chatserver", "--embedded", "--token-ttl", "soon"}, nil,
		`--token-ttl "soon" is not a duration such as 30s, 5m or 1h`},
	"chatserver: a bad boolean": {[]string{"chatserver", "--embedded=maybe"}, nil, `--embedded "maybe" is not true or false`},
	"chatserver: metrics on the public port": {[]string{"chatserver", "--embedded", "--listen", ":8080", "--metrics-listen", ":8080"}, nil,
		"the metrics address (--metrics-listen) must differ from --listen: /metrics is never public"},
	"chatserver: a stray argument": {[]string{"chatserver", "--embedded", "extra"}, nil, `unexpected arguments ["extra"]`},
	"chatserver: no connection string": {[]string{"chatserver"}, nil,
		"no Web PubSub connection string: set $CHATHUB_CONNECTION_STRING (or $WebPubSubConnectionString) or --connection-string-file, or use --embedded"},
	"chatserver: a bad CHATHUB_CONNECTION_STRING": {[]string{"chatserver"}, []string{"CHATHUB_CONNECTION_STRING=garbage"},
		"the connection string in $CHATHUB_CONNECTION_STRING is invalid: connection string: part 1 has no '='"},
	"chatserver: a bad WebPubSubConnectionString": {[]string{"chatserver"}, []string{"WebPubSubConnectionString=garbage"},
		"the connection string in $WebPubSubConnectionString is invalid: connection string: part 1 has no '='"},
	"chatserver: a bad CHATHUB_LOG_LEVEL": {[]string{"chatserver", "--embedded"}, []string{"CHATHUB_LOG_LEVEL=loud"},
		`$CHATHUB_LOG_LEVEL "loud" is not debug, info, warn or error`},
	"chatserver: a bad --log-format": {[]string{"chatserver", "--embedded", "--log-format", "xml"}, nil, `--log-format "xml" is not text or json`},

	"pubsub: an unknown flag":  {[]string{"pubsub", "--nope"}, nil, "unknown flag --nope (--help lists the flags)"},
	"pubsub: a bad number":     {[]string{"pubsub", "--rate-limit", "fast"}, nil, `--rate-limit "fast" is not a number`},
	"pubsub: a bad endpoint":   {[]string{"pubsub", "--endpoint", "ftp://x"}, nil, `--endpoint "ftp://x" must be an http(s) URL with a host`},
	"pubsub: a short key flag": {[]string{"pubsub", "--access-key", "short"}, nil, "access key is 5 characters long, it must be at least 32"},
	"pubsub: NATS credentials in the URL": {[]string{"pubsub", "--access-key", strings.Repeat("k", 32), "--nats-url", "nats://u:pw@nats:4222"}, nil,
		"--nats-url must not carry credentials: use --nats-user with --nats-password-file, or --nats-creds-file"},
	"pubsub: NATS without a shared key": {[]string{"pubsub"}, []string{"CHATHUB_NATS_URL=nats://nats:4222"},
		"with --nats-url every replica must have the same access key: give --access-key, --access-key-file or $CHATHUB_ACCESS_KEY"},
	"pubsub: a bad CHATHUB_ACCESS_KEY": {[]string{"pubsub"}, []string{"CHATHUB_ACCESS_KEY=short"},
		"$CHATHUB_ACCESS_KEY: access key is 5 characters long, it must be at least 32"},
	"pubsub: a bad WEBPUBSUB_ACCESS_KEY (deprecated)": {[]string{"pubsub"}, []string{"WEBPUBSUB_ACCESS_KEY=short"},
		"$WEBPUBSUB_ACCESS_KEY: access key is 5 characters long, it must be at least 32"},
	"pubsub: a bad CHATHUB_LOG_FORMAT": {[]string{"pubsub"}, []string{"CHATHUB_LOG_FORMAT=xml"}, `$CHATHUB_LOG_FORMAT "xml" is not text or json`},

	"manager: an unknown flag": {[]string{"manager", "--nope"}, nil, "unknown flag --nope (--help lists the flags)"},
	"manager: no image": {[]string{"manager"}, nil,
		"--default-chat-image (or CHATHUB_IMAGE) is required: the image the chat server pods run"},
	"manager: a bad number": {[]string{"manager", "--max-concurrent-reconciles", "many"}, []string{"CHATHUB_IMAGE=i"},
		`--max-concurrent-reconciles "many" is not a whole number`},
	"manager: too few reconciles": {[]string{"manager", "--max-concurrent-reconciles=0"}, []string{"CHATHUB_IMAGE=i"},
		"--max-concurrent-reconciles must be at least 1"},
	"manager: a bad --zap-devel": {[]string{"manager", "--zap-devel=maybe"}, []string{"CHATHUB_IMAGE=i"}, `--zap-devel "maybe" is not true or false`},
	"manager: a bad CHATHUB_LOG_LEVEL": {[]string{"manager"}, []string{"CHATHUB_IMAGE=i", "CHATHUB_LOG_LEVEL=loud"},
		`$CHATHUB_LOG_LEVEL "loud" is not debug, info, warn or error`},
	"manager: no probe address": {[]string{"manager", "--health-probe-bind-address=0"}, []string{"CHATHUB_IMAGE=i"},
		"--health-probe-bind-address must be an address: the kubelet probes /healthz and /readyz"},
}

// TestUsageErrorsExit2WithOneSentence runs the real binaries over the bad
// inputs of every subcommand: each exits 2 and prints exactly one line to
// stderr, the sentence naming the mistake. chathub-data, which has the
// data-plane subcommands only, answers the same for them.
func TestUsageErrorsExit2WithOneSentence(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{"chathub": buildChathub(t), "chathub-data": filepath.Join(dir, "chathub-data")}
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bins["chathub-data"], "./cmd/chathub-data").CombinedOutput() //nolint:gosec // G204: a path in the test's own temporary folder
	if err != nil {
		t.Fatalf("go build ./cmd/chathub-data: %v\n%s", err, out)
	}
	dataOnly := map[string]usageCase{"manager is not in chathub-data": {[]string{"manager"}, nil,
		`unknown command "manager"; run 'chathub-data --help' for the list`}}
	for name, tc := range usageCases {
		if len(tc.args) > 0 && (tc.args[0] == "chatserver" || tc.args[0] == "pubsub") {
			dataOnly[name] = tc
		}
	}
	for bin, cases := range map[string]map[string]usageCase{"chathub": usageCases, "chathub-data": dataOnly} {
		for name, tc := range cases {
			t.Run(bin+"/"+name, func(t *testing.T) {
				t.Parallel()
				cmd := exec.CommandContext(t.Context(), bins[bin], tc.args...) //nolint:gosec // G204: the binary this test built
				cmd.Env = append([]string{"HOME=" + dir}, tc.env...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 2 {
					t.Fatalf("%s %q: %v, want exit status 2; stderr:\n%s", bin, tc.args, err, stderr.String())
				}
				if want := bin + ": usage error: " + tc.want + "\n"; stderr.String() != want {
					t.Errorf("stderr:\n%q\nwant the one line\n%q", stderr.String(), want)
				}
				if strings.Count(stderr.String(), "\n") != 1 {
					t.Errorf("stderr has %d lines, want one", strings.Count(stderr.String(), "\n"))
				}
			})
		}
	}
}
