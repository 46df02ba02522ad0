// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build !linux

package fdconn

import "net"

// Listen listens on the TCP address addr; on this system with the net package's listener.
func Listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
