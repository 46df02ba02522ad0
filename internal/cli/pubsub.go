// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cli

import (
	"context"
	"os"

	"github.com/chathub/chathub/internal/pprofserver"
	"github.com/chathub/chathub/pubsub"
)

// RunPubSub runs the 'pubsub' subcommand: the PubSub service (Web
// PubSub-compatible). It prints the connection string on stdout and serves
// until ctx ends; the key is printed only when it was generated or typed
// with --access-key (see pubsub.CommandConfig.ResolveAccessKey). With $CHATHUB_PPROF_LISTEN
// set it also serves its profiles there (pprofserver).
func RunPubSub(ctx context.Context, args []string) error {
	cfg := pubsub.DefaultCommandConfig()
	cfg.LoadEnv(os.Getenv)
	logs := NewLogConfig()
	logs.LoadEnv(os.Getenv)
	if err := Configure("pubsub", args, logs, &cfg); err != nil {
		return err
	}
	if _, err := pprofserver.StartFromEnv(ctx, os.Getenv); err != nil {
		return err
	}
	log := logs.Logger(os.Stderr)
	WarnDeprecatedEnv(log, os.Getenv, pubsub.EnvVars...)
	return pubsub.RunCommand(ctx, cfg, log, os.Stdout)
}
