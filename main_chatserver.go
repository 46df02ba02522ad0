package main

import (
	"context"
	"errors"
)

// runChatServer runs the chatserver subcommand.
func runChatServer(ctx context.Context, args []string) error {
	return errors.New("chatserver: not implemented yet")
}
