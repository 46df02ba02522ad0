// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The benchmark reads the manager's memory from /proc, so it runs on Linux
// only; elsewhere it builds to a command that says so.
func main() {
	fmt.Fprintln(os.Stderr, "bench/operator runs on Linux only (it reads /proc)")
	os.Exit(2)
}
