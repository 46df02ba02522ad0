// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chathub/chathub/internal/version"
)

// Command is one subcommand of a chathub binary.
type Command struct {
	// Name is the word that selects the command, e.g. "chatserver".
	Name string
	// Summary is the one-line description --help shows.
	Summary string
	// Run runs the command with the arguments after its name.
	Run func(ctx context.Context, args []string) error
}

// The data-plane subcommands, in every chathub binary.
var (
	// ChatServer is the 'chatserver' subcommand (RunChatServer).
	ChatServer = Command{"chatserver", "Run the chat server: the web UI, /negotiate and the Web PubSub event handler", RunChatServer}
	// PubSub is the 'pubsub' subcommand (RunPubSub).
	PubSub = Command{"pubsub", "Run the PubSub service: ChatHub's own Azure Web PubSub-compatible service", RunPubSub}
)

// VersionCommand returns the 'version' subcommand of the binary called
// name: it prints "<name> <version> (commit <commit>, <go version>,
// <os>/<arch>)" to stdout.
func VersionCommand(name string) Command {
	return Command{"version", "Print the version, git commit and Go version", func(_ context.Context, args []string) error {
		if len(args) > 0 {
			switch args[0] {
			case "-h", "-help", "--help":
				_, _ = fmt.Printf("Usage: %s version\n\nPrint the version, git commit and Go version of %s.\n", name, name)
				return flag.ErrHelp
			}
			return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, args)
		}
		return version.Print(os.Stdout, name)
	}}
}

// ErrUsage marks a command-line mistake; Main exits 2 for it.
var ErrUsage = errors.New("usage error")

// Main runs the subcommand os.Args names until SIGINT or SIGTERM and exits:
// 0 on success or --help, 2 on a usage error, 1 on any other error. name
// is the binary's name in help and error messages.
func Main(name string, cmds []Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, name, cmds, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Run dispatches to the command of cmds named by args[0]; help goes to
// stdout. name is the binary's name in help and error messages.
func Run(ctx context.Context, name string, cmds []Command, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		usage(stdout, name, cmds)
		return fmt.Errorf("%w: no command given; run '%s --help' for the list", ErrUsage, name)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout, name, cmds)
		return nil
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			return c.Run(ctx, args[1:])
		}
	}
	return fmt.Errorf("%w: unknown command %q; run '%s --help' for the list", ErrUsage, args[0], name)
}

func usage(w io.Writer, name string, cmds []Command) {
	// The help text is best effort: a failed write to the terminal has nowhere to be reported.
	_, _ = fmt.Fprintf(w, "%s: real-time chat on Kubernetes with Azure Web PubSub\n", name)
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintf(w, "Usage: %s <command> [flags]\n", name)
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "Commands:")
	for _, c := range cmds {
		_, _ = fmt.Fprintf(w, "  %-11s %s\n", c.Name, c.Summary)
	}
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintf(w, "Run '%s <command> --help' for the flags of a command.\n", name)
}
