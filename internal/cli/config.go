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
	"os"
	"regexp"
	"strings"

	"github.com/chathub/chathub/internal/envvar"
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
// --help, after printing the flags to stdout.
func Configure(name string, args []string, parts ...FlagConfig) error {
	fs := flag.NewFlagSet("chathub "+name, flag.ContinueOnError)
	// A mistake is reported once, by Main, as one sentence: the flag set
	// prints neither it nor the flag list; --help prints the list to stdout.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, p := range parts {
		p.BindFlags(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			_, _ = fmt.Fprintf(os.Stdout, "Usage: %s [flags]\n\nFlags:\n", fs.Name())
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("%w: %s", ErrUsage, flagError(fs, err))
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

// The environment variables of LogConfig (LoadEnv).
const (
	EnvLogLevel  = envvar.Prefix + "LOG_LEVEL"
	EnvLogFormat = envvar.Prefix + "LOG_FORMAT"
)

// LogEnvVars are the environment variables every subcommand reads for its
// logging (LogConfig.LoadEnv).
var LogEnvVars = []envvar.Var{
	{Name: EnvLogLevel, Usage: "the default of --log-level"},
	{Name: EnvLogFormat, Usage: "the default of --log-format"},
}

// The flag package's parse errors, which flagError rewrites.
var (
	flagUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
	flagNoValue   = regexp.MustCompile(`^flag needs an argument: -+(.+)$`)
	flagBadValue  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]+): (.*)$`)
)

// valueKinds says, for the value types the flag package names in --help,
// what a value must look like.
var valueKinds = map[string]string{
	"duration": "a duration such as 30s, 5m or 1h",
	"int":      "a whole number",
	"uint":     "a whole number",
	"float":    "a number",
	"":         "true or false",
}

// flagError rewrites a parse error of fs as one sentence in the words of
// the command line (--name, not -name), saying what a bad value must look
// like; an error it does not know is returned as it is.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := flagUndefined.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown flag --%s (--help lists the flags)", m[1])
	}
	if m := flagNoValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("--%s needs a value", m[1])
	}
	if m := flagBadValue.FindStringSubmatch(msg); m != nil {
		if f := fs.Lookup(m[2]); f != nil {
			typ, _ := flag.UnquoteUsage(f)
			if kind, ok := valueKinds[typ]; ok {
				return fmt.Sprintf("--%s %q is not %s", m[2], m[1], kind)
			}
		}
		return fmt.Sprintf("--%s %q: %s", m[2], m[1], m[3])
	}
	return msg
}

// LogConfig is the logging part of every subcommand's configuration:
// --log-level and --log-format (defaults from $CHATHUB_LOG_LEVEL and
// $CHATHUB_LOG_FORMAT), and the slog logger they make, writing to stderr.
type LogConfig struct {
	// Level is debug, info, warn or error (slog.Level's text form).
	Level string
	// Format is text or json.
	Format string

	// levelFrom and formatFrom name where Level and Format were set, for
	// messages: the flag, or the environment variable.
	levelFrom, formatFrom string
}

// NewLogConfig returns the default logging configuration, info and text.
func NewLogConfig() *LogConfig {
	return &LogConfig{Level: "info", Format: "text", levelFrom: "--log-level", formatFrom: "--log-format"}
}

// LoadEnv applies $CHATHUB_LOG_LEVEL and $CHATHUB_LOG_FORMAT (read
// through getenv) to c.
func (c *LogConfig) LoadEnv(getenv func(string) string) {
	if v, from := LogEnvVars[0].Lookup(getenv); v != "" {
		c.Level, c.levelFrom = strings.TrimSpace(v), "$"+from
	}
	if v, from := LogEnvVars[1].Lookup(getenv); v != "" {
		c.Format, c.formatFrom = strings.TrimSpace(v), "$"+from
	}
}

// BindFlags registers --log-level and --log-format.
func (c *LogConfig) BindFlags(fs *flag.FlagSet) {
	fs.Var(&sourcedString{&c.Level, &c.levelFrom, "--log-level"}, "log-level", "log level: debug, info, warn or error")
	fs.Var(&sourcedString{&c.Format, &c.formatFrom, "--log-format"}, "log-format", "log format: text or json (one JSON object a line, for clusters)")
}

// sourcedString is a string flag that records that the flag set it.
type sourcedString struct {
	v, from *string
	name    string
}

func (s *sourcedString) String() string {
	if s == nil || s.v == nil {
		return ""
	}
	return *s.v
}

func (s *sourcedString) Set(v string) error {
	*s.v, *s.from = v, s.name
	return nil
}

// Validate reports an unknown level or format, naming the flag or the
// environment variable that gave it.
func (c *LogConfig) Validate() error {
	if _, err := c.level(); err != nil {
		return err
	}
	switch strings.ToLower(c.Format) {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("%s %q is not text or json", c.formatFrom, c.Format)
}

func (c *LogConfig) level() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(c.Level)); err != nil {
		return 0, fmt.Errorf("%s %q is not debug, info, warn or error", c.levelFrom, c.Level)
	}
	return lv, nil
}

// Handler returns the slog handler writing to w. c must be valid: an
// unknown level logs at info and an unknown format as text.
func (c *LogConfig) Handler(w io.Writer) slog.Handler {
	lv, _ := c.level()
	opts := &slog.HandlerOptions{Level: lv}
	if strings.EqualFold(c.Format, "json") {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// Logger returns the slog logger writing to w; see Handler.
func (c *LogConfig) Logger(w io.Writer) *slog.Logger { return slog.New(c.Handler(w)) }

// WarnDeprecatedEnv logs one warning for each variable of vars read under
// a deprecated name (never its value).
func WarnDeprecatedEnv(log *slog.Logger, getenv func(string) string, vars ...envvar.Var) {
	for _, d := range envvar.Deprecations(getenv, vars...) {
		log.Warn("Deprecated environment variable: set the new name instead", "variable", d.Used, "use", d.Name)
	}
}
