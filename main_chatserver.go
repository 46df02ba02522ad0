package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/chathub/chathub/chatserver"
)

// runChatServer runs the 'chatserver' subcommand: the chat UI, /negotiate
// and the Web PubSub event handler; with --embedded also the PubSub
// service in the same process.
func runChatServer(ctx context.Context, args []string) error {
	cfg := chatserver.DefaultConfig()
	cfg.LoadEnv(os.Getenv)
	fs := flag.NewFlagSet("chatserver", flag.ContinueOnError)
	cfg.BindFlags(fs)
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: chatserver: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: chatserver takes no arguments, got %q", errUsage, fs.Arg(0))
	}
	logger, err := chatServerLogger(*logLevel, *logFormat)
	if err != nil {
		return fmt.Errorf("%w: chatserver: %v", errUsage, err)
	}
	opts := chatserver.Options{Logger: logger.With("component", "chatserver")}
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
	return srv.Run(ctx, ln)
}

// chatServerLogger builds the slog logger the chat server writes to stderr.
func chatServerLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("unknown log level %q", level)
	}
	hopts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, hopts)), nil
	}
	return nil, fmt.Errorf("unknown log format %q", format)
}
