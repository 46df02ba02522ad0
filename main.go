// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command chathub is the single ChatHub binary. Its subcommands run the
// operator (manager), the chat server (chatserver) and the PubSub
// service, ChatHub's own Web PubSub-compatible service (pubsub).
package main

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

// command is one subcommand of the chathub binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands lists the subcommands in the order `chathub --help` shows them.
var commands = []command{
	{"manager", "Run the ChatHub operator (the Kubernetes controller manager)", runManager},
	{"chatserver", "Run the chat server: the web UI, /negotiate and the Web PubSub event handler", runChatServer},
	{"pubsub", "Run the PubSub service: ChatHub's own Azure Web PubSub-compatible service", runPubSub},
}

// errUsage marks a command-line mistake; main exits 2 for it.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "chathub:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "chathub:", err)
		os.Exit(1)
	}
}

// run dispatches to the subcommand named by args[0].
func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		usage(stdout)
		return fmt.Errorf("%w: no command given; run 'chathub --help' for the list", errUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:])
		}
	}
	return fmt.Errorf("%w: unknown command %q; run 'chathub --help' for the list", errUsage, args[0])
}

func usage(w io.Writer) {
	// The help text is best effort: a failed write to the terminal has nowhere to be reported.
	_, _ = fmt.Fprintln(w, "chathub: real-time chat on Kubernetes with Azure Web PubSub")
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "Usage: chathub <command> [flags]")
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		_, _ = fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	_, _ = fmt.Fprintln(w)
	_, _ = fmt.Fprintln(w, "Run 'chathub <command> --help' for the flags of a command.")
}
