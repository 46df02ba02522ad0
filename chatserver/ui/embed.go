// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package ui holds the chat web UI (one HTML, one CSS and one JavaScript
// file) embedded in the binary. The page loads nothing from other origins.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// FS returns the UI files rooted at the folder that holds index.html.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only for an invalid path, and "static" is a constant.
		panic(err)
	}
	return sub
}
