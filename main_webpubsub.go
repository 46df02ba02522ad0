package main

import (
	"context"
	"errors"
)

// runWebPubSub runs the webpubsub subcommand.
func runWebPubSub(ctx context.Context, args []string) error {
	return errors.New("webpubsub: not implemented yet")
}
