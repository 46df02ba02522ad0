// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package cli is the command-line shell shared by the chathub binaries:
// subcommand dispatch, flag parsing and validation (Configure), logging
// flags, and the data-plane subcommands chatserver and pubsub. It imports
// no Kubernetes package, so a binary built from it alone (cmd/chathub-data)
// stays small; the operator's 'manager' subcommand lives in the root
// package main.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// FlagConfig is one part of a subcommand's configuration that comes from
// flags: chatserver.Config, pubsub.CommandConfig, the manager's config, LogConfig.
// Each part holds its defaults and the environment (LoadEnv) before it is
// bound, so a flag overrides both.
type FlagConfig interface {
	// BindFlags registers the part's flags on fs, its current values as defaults.
	BindFlags(fs *flag.FlagSet)
	// Validate reports the first mistake in the part as one sentence.
	Validate() error
}

// FileLoader is a FlagConfig that reads files its flags name (for example
// an access key file) after the flags are parsed and before Validate.
type FileLoader interface {
	LoadFiles() error
}

// Configure is the one way every subcommand configures itself: it binds
// the flags of parts to one flag set named "chathub <name>", parses args,
// then, part by part in order, loads the files the part names and validates
// it. Flag mistakes, stray arguments and invalid parts are usage errors
// (exit 2); a file that cannot be read is not. It returns flag.ErrHelp for
// --help, after the flag set has printed the help.
func Configure(name string, args []string, parts ...FlagConfig) error {
	fs := flag.NewFlagSet("chathub "+name, flag.ContinueOnError)
	for _, p := range parts {
		p.BindFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	for _, p := range parts {
		if l, ok := p.(FileLoader); ok {
			if err := l.LoadFiles(); err != nil {
				return err
			}
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	return nil
}

// LogConfig is the logging part of a subcommand's configuration: the slog
// logger it writes to stderr. Every command has --log-level; only commands
// created with a Format have --log-format.
type LogConfig struct {
	// Level is debug, info, warn or error (slog.Level's text form).
	Level string
	// Format is text or json. Empty means the command has no --log-format
	// flag and logs text.
	Format string

	hasFormat bool
}

// NewLogConfig returns the default logging configuration, info and text,
// with a --log-format flag when withFormat is set.
func NewLogConfig(withFormat bool) *LogConfig {
	c := &LogConfig{Level: "info", hasFormat: withFormat}
	if withFormat {
		c.Format = "text"
	}
	return c
}

// BindFlags registers --log-level and, if the command has it, --log-format.
func (c *LogConfig) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Level, "log-level", c.Level, "log level: debug, info, warn or error")
	if c.hasFormat {
		fs.StringVar(&c.Format, "log-format", c.Format, "log format: text or json")
	}
}

// Validate reports an unknown level or format.
func (c *LogConfig) Validate() error {
	if _, err := c.level(); err != nil {
		return err
	}
	switch strings.ToLower(c.Format) {
	case "", "text", "json":
		return nil
	}
	return fmt.Errorf("--log-format %q is not text or json", c.Format)
}

func (c *LogConfig) level() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.Level)); err != nil {
		return 0, fmt.Errorf("--log-level %q is not debug, info, warn or error", c.Level)
	}
	return lv, nil
}

// Logger returns the slog logger writing to w. c must be valid: an unknown
// level logs at info and an unknown format as text.
func (c *LogConfig) Logger(w io.Writer) *slog.Logger {
	lv, _ := c.level()
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
