package main

import (
	"context"
	"errors"
)

// runManager runs the manager subcommand.
func runManager(ctx context.Context, args []string) error {
	return errors.New("manager: not implemented yet")
}
