// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command coredns is CoreDNS v1.15.0 with only the plugins the local cluster's
// Corefile uses (hack/cluster/coredns.yaml). Leaving out the cloud plugins
// (route53, azure, clouddns, ...) and forward cuts the build to a fraction
// and guarantees that the cluster DNS has no upstream: pods never reach the
// host's resolver.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
