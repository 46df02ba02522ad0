// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The harness drives its idle connections with epoll and reads the service's memory
// from /proc, so it runs on Linux only; elsewhere it builds to a command that says so.
func main() {
	fmt.Fprintln(os.Stderr, "wpsload runs on Linux only (it uses epoll and /proc)")
	os.Exit(2)
}
