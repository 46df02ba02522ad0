// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package chromiumtest starts headless Chromium for the browser tests (chromedp).
package chromiumtest

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// Starts is how many times Start tries to start Chromium. On a busy machine headless Chromium
// now and then crashes while it starts ("chrome failed to start"), which says nothing about
// the pages under test.
const Starts = 3

// Start starts Chromium with opts, each attempt with a new profile directory under dir, and
// returns the context of its first tab. The browser stops and its profile is removed when the
// test ends. Each failed start is logged; after Starts of them the test fails.
func Start(t testing.TB, dir string, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	var err error
	for attempt := 1; attempt <= Starts; attempt++ {
		profile, mkErr := os.MkdirTemp(dir, "chromium-")
		if mkErr != nil {
			t.Fatal(mkErr)
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			append(opts[:len(opts):len(opts)], chromedp.UserDataDir(profile))...)
		ctx, cancel := chromedp.NewContext(allocCtx)
		stop := func() { cancel(); cancelAlloc(); _ = os.RemoveAll(profile) }
		// The first action starts the browser; it must not run under a timeout.
		if err = chromedp.Do(ctx); err == nil {
			t.Cleanup(stop)
			return ctx
		}
		stop()
		t.Logf("starting chromium, attempt %d of %d: %v", attempt, Starts, err)
	}
	t.Fatalf("starting chromium: %d attempts failed, the last with: %v", Starts, err)
	return nil
}
