// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command chathub-data runs ChatHub's data-plane roles, the chat server
// (chatserver) and the PubSub service (pubsub), with the same flags as
// `chathub chatserver` and `chathub pubsub`. It links no Kubernetes,
// controller-runtime or operator package (a test guards that), so its
// pods idle in a fraction of the memory of the all-roles chathub binary;
// the operator runs it for the pods it creates. Both binaries are in the
// chathub image.
package main

import "github.com/chathub/chathub/internal/cli"

func main() {
	cli.Main("chathub-data", []cli.Command{cli.ChatServer, cli.PubSub, cli.VersionCommand("chathub-data")})
}
