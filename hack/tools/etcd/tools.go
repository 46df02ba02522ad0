// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build tools

// Package tools records the etcd command this module builds.
package tools

import _ "go.etcd.io/etcd/server/v3"
