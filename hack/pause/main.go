// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command pause is the sandbox ("pause") container of the local cluster: it
// holds a pod's namespaces and waits for SIGINT or SIGTERM. `make image`
// packs it as registry.k8s.io/pause:3.10, the image containerd's CRI asks
// for, so the cluster never pulls from a registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
