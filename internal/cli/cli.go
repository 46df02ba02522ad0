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

// ErrUsage marks a command-line mistake; Main exits 2 for it.
var ErrUsage = errors.New("usage error")

// Main runs the subcommand os.Args names until SIGINT or SIGTERM and exits:
// 0 on success or --help, 2 on a usage error, 1 on any other error.
func Main(cmds []Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, cmds, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, ErrUsage):
		fmt.Fprintln(os.Stderr, "chathub:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "chathub:", err)
		os.Exit(1)
	}
}

// Run dispatches to the command of cmds named by args[0]; help goes to stdout.
func Run(ctx context.Context, cmds []Command, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		usage(stdout, cmds)
		return fmt.Errorf("%w: no command given; run 'chathub --help' for the list", ErrUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout, cmds)
		return nil
	}
	for _, c := range cmds {
		if c.Name == args[0] {
			return c.Run(ctx, args[1:])
		}
	}
	return fmt.Errorf("%w: unknown command %q; run 'chathub --help' for the list", ErrUsage, args[0])
}

func usage(w io.Writer, cmds []Command) {
	// The help text is best effort: a failed write to the terminal has nowhere to be reported.
	_, _ = fmt.Fprintln(w, "chathub: real-time chat on Kubernetes with Azure Web PubSub")
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "Usage: chathub <command> [flags]")
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "Commands:")
	for _, c := range cmds {
		_, _ = fmt.Fprintf(w, "  %-11s %s\n", c.Name, c.Summary)
	}
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "Run 'chathub <command> --help' for the flags of a command.")
}
