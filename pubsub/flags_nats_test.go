// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chathub/chathub/pubsub/cluster"
)

func TestNATSFlags(t *testing.T) {
	t.Parallel()
	pwFile := writeKeyFile(t, "  file-password\n")
	c, err := loadCommandConfig(t, map[string]string{EnvNATSURL: "nats://env:4222", EnvNATSPassword: "env-password"},
		"--access-key", cmdFlagKey, "--nats-url", "tls://a:4222, tls://b:4222", "--nats-user", "chathub",
		"--nats-password-file", pwFile, "--nats-tls-ca-file", "/ca.pem", "--nats-tls-cert-file", "/c.pem",
		"--nats-tls-key-file", "/k.pem", "--nats-subject-prefix", "team1.pubsub")
	if err != nil {
		t.Fatal(err)
	}
	got := c.NATS.clusterConfig()
	got.Name = ""
	want := &cluster.Config{URL: "tls://a:4222, tls://b:4222", User: "chathub", Password: "file-password",
		TLSCAFile: "/ca.pem", TLSCertFile: "/c.pem", TLSKeyFile: "/k.pem", Prefix: "team1.pubsub"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cluster config (-want +got):\n%s", diff)
	}

	// The environment gives the URL, the user and the password.
	c, err = loadCommandConfig(t, map[string]string{EnvAccessKey: cmdEnvKey, EnvNATSURL: "nats://env:4222",
		EnvNATSUser: "u", EnvNATSPassword: "env-password"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NATS.clusterConfig(); got.URL != "nats://env:4222" || got.User != "u" || got.Password != "env-password" {
		t.Errorf("from the environment: URL %q, user %q, password set %v", got.URL, got.User, got.Password != "")
	}

	// Without a URL there is no cluster.
	c, err = loadCommandConfig(t, nil)
	if err != nil || c.NATS.clusterConfig() != nil {
		t.Fatalf("without --nats-url: %v, cluster %v", err, c.NATS.clusterConfig())
	}
}

func TestNATSFlagMistakes(t *testing.T) {
	t.Parallel()
	key := []string{"--access-key", cmdFlagKey}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--nats-user", "u"}, nil, "--nats-user needs --nats-url"},
		{[]string{"--nats-tls-ca-file", "/ca"}, nil, "--nats-tls-ca-file needs --nats-url"},
		{append([]string{"--nats-url", "http://nats:4222"}, key...), nil, `scheme "http" is not nats or tls`},
		{append([]string{"--nats-url", "nats://u:hunter2-password@nats:4222"}, key...), nil, "must not carry credentials"},
		{append([]string{"--nats-url", "nats:4222"}, key...), nil, "must list NATS server URLs"},
		{append([]string{"--nats-url", "nats://n:4222", "--nats-user", "u", "--nats-creds-file", "/c"}, key...), nil, "give one"},
		{append([]string{"--nats-url", "nats://n:4222", "--nats-user", "u"}, key...), nil, "--nats-user needs a password"},
		{append([]string{"--nats-url", "nats://n:4222", "--nats-password-file", "/dev/null"}, key...), nil, "--nats-password-file needs --nats-user"},
		{append([]string{"--nats-url", "nats://n:4222", "--nats-tls-cert-file", "/c"}, key...), nil, "go together"},
		{append([]string{"--nats-url", "nats://n:4222", "--nats-subject-prefix", "a.>"}, key...), nil, "is not a NATS subject"},
		{[]string{"--nats-url", "nats://n:4222"}, nil, "every replica must have the same access key"},
	} {
		_, err := loadCommandConfig(t, tc.env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error shows the password: %v", tc.args, err)
		}
	}
	if _, err := loadCommandConfig(t, nil, "--access-key", cmdFlagKey, "--nats-url", "nats://n:4222",
		"--nats-user", "u", "--nats-password-file", "/does/not/exist"); err == nil || !strings.Contains(err.Error(), "--nats-password-file") {
		t.Errorf("an unreadable password file: %v", err)
	}
}
