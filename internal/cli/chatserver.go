// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cli

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/internal/pprofserver"
)

// RunChatServer runs the 'chatserver' subcommand: the chat UI, /negotiate
// and the Web PubSub event handler; with --embedded also the PubSub
// service in the same process. With $CHATHUB_PPROF_LISTEN set it also
// serves its profiles there (pprofserver).
func RunChatServer(ctx context.Context, args []string) error {
	cfg := chatserver.DefaultConfig()
	cfg.LoadEnv(os.Getenv)
	logs := NewLogConfig()
	logs.LoadEnv(os.Getenv)
	if err := Configure("chatserver", args, logs, &cfg); err != nil {
		return err
	}
	if _, err := pprofserver.StartFromEnv(ctx, os.Getenv); err != nil {
		return err
	}
	log := logs.Logger(os.Stderr).With("component", "chatserver")
	WarnDeprecatedEnv(log, os.Getenv, chatserver.EnvVars...)
	opts := chatserver.Options{Logger: log}
	if cfg.Embedded {
		return chatserver.RunEmbedded(ctx, cfg, opts, os.Stdout)
	}
	srv, err := chatserver.New(cfg, opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	more, err := chatserver.Listen(cfg)
	if err != nil {
		_ = ln.Close() // the listen error is the one to report
		return err
	}
	return srv.Serve(ctx, ln, more)
}
