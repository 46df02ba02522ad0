// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package operator runs the real 'chathub manager' binary against a real
// kube-apiserver (envtest) as a black box: it imports no package of the
// project and talks to the API server only. The black-box test
// (operator_test.go) and the scale benchmark (bench/operator) use it. It
// reads the manager's memory from /proc and envtest does not build
// everywhere, so it is Linux-only: elsewhere the package is empty.
package operator
