// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// flagConfig is one part of a subcommand's configuration that comes from
// flags: chatserver.Config, pubsub.CommandConfig, managerConfig, logConfig.
// Each part holds its defaults and the environment (LoadEnv) before it is
// bound, so a flag overrides both.
type flagConfig interface {
	// BindFlags registers the part's flags on fs, its current values as defaults.
	BindFlags(fs *flag.FlagSet)
	// Validate reports the first mistake in the part as one sentence.
	Validate() error
}

// fileLoader is a flagConfig that reads files its flags name (for example
// an access key file) after the flags are parsed and before Validate.
type fileLoader interface {
	LoadFiles() error
}

// configure is the one way every subcommand configures itself: it binds
// the flags of parts to one flag set named "chathub <name>", parses args,
// then, part by part in order, loads the files the part names and validates
// it. Flag mistakes, stray arguments and invalid parts are usage errors
// (exit 2); a file that cannot be read is not. It returns flag.ErrHelp for
// --help, after the flag set has printed the help.
func configure(name string, args []string, parts ...flagConfig) error {
	fs := flag.NewFlagSet("chathub "+name, flag.ContinueOnError)
	for _, p := range parts {
		p.BindFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	for _, p := range parts {
		if l, ok := p.(fileLoader); ok {
			if err := l.LoadFiles(); err != nil {
				return err
			}
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	return nil
}

// logConfig is the logging part of a subcommand's configuration: the slog
// logger it writes to stderr. Every command has --log-level; only commands
// created with a Format have --log-format.
type logConfig struct {
	// Level is debug, info, warn or error (slog.Level's text form).
	Level string
	// Format is text or json. Empty means the command has no --log-format
	// flag and logs text.
	Format string

	hasFormat bool
}

// newLogConfig returns the default logging configuration, info and text,
// with a --log-format flag when withFormat is set.
func newLogConfig(withFormat bool) *logConfig {
	c := &logConfig{Level: "info", hasFormat: withFormat}
	if withFormat {
		c.Format = "text"
	}
	return c
}

// BindFlags registers --log-level and, if the command has it, --log-format.
func (c *logConfig) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Level, "log-level", c.Level, "log level: debug, info, warn or error")
	if c.hasFormat {
		fs.StringVar(&c.Format, "log-format", c.Format, "log format: text or json")
	}
}

// Validate reports an unknown level or format.
func (c *logConfig) Validate() error {
	if _, err := c.level(); err != nil {
		return err
	}
	switch strings.ToLower(c.Format) {
	case "", "text", "json":
		return nil
	}
	return fmt.Errorf("--log-format %q is not text or json", c.Format)
}

func (c *logConfig) level() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.Level)); err != nil {
		return 0, fmt.Errorf("--log-level %q is not debug, info, warn or error", c.Level)
	}
	return lv, nil
}

// logger returns the slog logger writing to w. c must be valid: an unknown
// level logs at info and an unknown format as text.
func (c *logConfig) logger(w io.Writer) *slog.Logger {
	lv, _ := c.level()
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(c.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
