// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/chathub/chathub/internal/envvar"
	"github.com/chathub/chathub/pubsub/cluster"
)

// The environment variables of the NATS connection (NATSConfig).
const (
	EnvNATSURL      = envvar.Prefix + "NATS_URL"
	EnvNATSUser     = envvar.Prefix + "NATS_USER"
	EnvNATSPassword = envvar.Prefix + "NATS_PASSWORD"
)

// natsEnvVars are the environment variables of NATSConfig, part of EnvVars.
var natsEnvVars = []envvar.Var{
	{Name: EnvNATSURL, Usage: "the default of --nats-url"},
	{Name: EnvNATSUser, Usage: "the default of --nats-user"},
	{Name: EnvNATSPassword, Usage: "the NATS password of --nats-user, when --nats-password-file gives none"},
}

// NATSConfig is the part of CommandConfig that makes `chathub pubsub` one replica of several
// sharing their hubs through NATS. Without URL the service runs alone, without NATS.
type NATSConfig struct {
	// URL names the NATS servers, comma-separated (nats:// or tls://), without credentials.
	URL string
	// CredsFile is a NATS credentials file (a user JWT and its NKey seed).
	CredsFile string
	// User is the NATS user; its password comes from PasswordFile or $CHATHUB_NATS_PASSWORD.
	User string
	// PasswordFile holds the password of User (a mounted Secret); surrounding whitespace is
	// trimmed.
	PasswordFile string
	// TLSCAFile verifies the NATS servers' certificates; TLSCertFile and TLSKeyFile are the
	// client certificate for mutual TLS.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	// SubjectPrefix starts every NATS subject of the service, so that several services can
	// share one NATS; "" => cluster.DefaultPrefix.
	SubjectPrefix string

	passwordFromEnv string // $CHATHUB_NATS_PASSWORD (LoadEnv)
	password        string // from PasswordFile (LoadFiles) or the environment
}

func (n *NATSConfig) loadEnv(getenv func(string) string) {
	if v, _ := natsEnvVars[0].Lookup(getenv); v != "" {
		n.URL = strings.TrimSpace(v)
	}
	if v, _ := natsEnvVars[1].Lookup(getenv); v != "" {
		n.User = strings.TrimSpace(v)
	}
	if v, _ := natsEnvVars[2].Lookup(getenv); v != "" {
		n.passwordFromEnv = strings.TrimSpace(v)
	}
}

func (n *NATSConfig) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&n.URL, "nats-url", n.URL, "NATS servers (nats:// or tls://, comma-separated, no credentials) through which replicas of the service share their hubs; empty: a single replica without NATS")
	fs.StringVar(&n.CredsFile, "nats-creds-file", n.CredsFile, "NATS credentials file (user JWT and NKey seed)")
	fs.StringVar(&n.User, "nats-user", n.User, "NATS user, with --nats-password-file or $"+EnvNATSPassword)
	fs.StringVar(&n.PasswordFile, "nats-password-file", n.PasswordFile, "file holding the password of --nats-user (e.g. a mounted Secret)")
	fs.StringVar(&n.TLSCAFile, "nats-tls-ca-file", n.TLSCAFile, "CA bundle (PEM) that verifies the NATS servers")
	fs.StringVar(&n.TLSCertFile, "nats-tls-cert-file", n.TLSCertFile, "client certificate (PEM) for mutual TLS with NATS, with --nats-tls-key-file")
	fs.StringVar(&n.TLSKeyFile, "nats-tls-key-file", n.TLSKeyFile, "key (PEM) of --nats-tls-cert-file")
	fs.StringVar(&n.SubjectPrefix, "nats-subject-prefix", n.SubjectPrefix, "start of the service's NATS subjects, the same on every replica (default "+cluster.DefaultPrefix+")")
}

// loadFiles reads the password file.
func (n *NATSConfig) loadFiles() error {
	n.password = n.passwordFromEnv
	if n.PasswordFile == "" {
		return nil
	}
	b, err := os.ReadFile(n.PasswordFile)
	if err != nil {
		return fmt.Errorf("reading --nats-password-file: %w", err)
	}
	if p := strings.TrimSpace(string(b)); p != "" {
		n.password = p
	}
	return nil
}

// validate reports the first mistake in the NATS flags as one sentence, never showing a
// credential. keysGiven says whether the access keys are given (not generated).
func (n *NATSConfig) validate(keysGiven bool) error {
	if n.URL == "" {
		for _, f := range []struct{ name, value string }{
			{"--nats-creds-file", n.CredsFile}, {"--nats-user", n.User}, {"--nats-password-file", n.PasswordFile},
			{"--nats-tls-ca-file", n.TLSCAFile}, {"--nats-tls-cert-file", n.TLSCertFile}, {"--nats-tls-key-file", n.TLSKeyFile},
			{"--nats-subject-prefix", n.SubjectPrefix},
		} {
			if f.value != "" {
				return fmt.Errorf("%s needs --nats-url", f.name)
			}
		}
		return nil
	}
	for u := range strings.SplitSeq(n.URL, ",") {
		if err := validateNATSURL(strings.TrimSpace(u)); err != nil {
			return err
		}
	}
	switch {
	case n.CredsFile != "" && n.User != "":
		return errors.New("--nats-creds-file and --nats-user are two ways to authenticate to NATS: give one")
	case n.PasswordFile != "" && n.User == "":
		return errors.New("--nats-password-file needs --nats-user")
	case n.User != "" && n.PasswordFile == "" && n.passwordFromEnv == "":
		return fmt.Errorf("--nats-user needs a password: --nats-password-file or $%s", EnvNATSPassword)
	case (n.TLSCertFile == "") != (n.TLSKeyFile == ""):
		return errors.New("--nats-tls-cert-file and --nats-tls-key-file go together")
	case !keysGiven:
		return fmt.Errorf("with --nats-url every replica must have the same access key: give --access-key, --access-key-file or $%s", EnvAccessKey)
	}
	if p := n.SubjectPrefix; p != "" {
		for tok := range strings.SplitSeq(p, ".") {
			if tok == "" || strings.ContainsAny(tok, " \t\r\n*>") {
				return fmt.Errorf("--nats-subject-prefix %q is not a NATS subject: dot-separated tokens without spaces, '*' or '>'", p)
			}
		}
	}
	return nil
}

// validateNATSURL checks one server of --nats-url. The URL is not repeated in the message:
// it might carry a password.
func validateNATSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("--nats-url must list NATS server URLs such as nats://nats:4222, comma-separated")
	}
	if u.User != nil {
		return errors.New("--nats-url must not carry credentials: use --nats-user with --nats-password-file, or --nats-creds-file")
	}
	switch u.Scheme {
	case "nats", "tls":
	default:
		return fmt.Errorf("--nats-url scheme %q is not nats or tls", u.Scheme)
	}
	return nil
}

// clusterConfig is the cluster.Config of the command, nil without a URL.
func (n *NATSConfig) clusterConfig() *cluster.Config {
	if n.URL == "" {
		return nil
	}
	name := "chathub-pubsub"
	if h, err := os.Hostname(); err == nil {
		name += "-" + h
	}
	return &cluster.Config{
		URL: n.URL, Name: name, CredsFile: n.CredsFile, User: n.User, Password: n.password,
		TLSCAFile: n.TLSCAFile, TLSCertFile: n.TLSCertFile, TLSKeyFile: n.TLSKeyFile, Prefix: n.SubjectPrefix,
	}
}
