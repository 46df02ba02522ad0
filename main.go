// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command chathub is the ChatHub binary with every role. Its subcommands
// run the operator (manager), the chat server (chatserver) and the PubSub
// service, ChatHub's own Web PubSub-compatible service (pubsub). The
// operator's pods run it; the chat server and PubSub service pods run
// cmd/chathub-data, the same data-plane subcommands without the
// Kubernetes libraries, which idles in about a quarter of the memory.
package main

import "github.com/chathub/chathub/internal/cli"

// commands lists the subcommands in the order `chathub --help` shows them.
var commands = []cli.Command{
	{Name: "manager", Summary: "Run the ChatHub operator (the Kubernetes controller manager)", Run: runManager},
	cli.ChatServer,
	cli.PubSub,
	cli.VersionCommand("chathub"),
}

func main() { cli.Main("chathub", commands) }
