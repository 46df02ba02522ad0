// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package version

import (
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestStampedBinaryPrintsItsVersion builds both binaries with the -ldflags
// the Makefile uses and runs their version command.
func TestStampedBinaryPrintsItsVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, pkg string }{
		{"chathub", "github.com/chathub/chathub"},
		{"chathub-data", "github.com/chathub/chathub/cmd/chathub-data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := filepath.Join(t.TempDir(), tc.name)
			const pkg = "github.com/chathub/chathub/internal/version"
			build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, //nolint:gosec // G204: bin is in the test's temporary folder, pkg a constant
				"-ldflags", "-X "+pkg+".Version=v9.8.7-test -X "+pkg+".Commit=0123456789abcdef", tc.pkg)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := exec.CommandContext(t.Context(), bin, "version").CombinedOutput() //nolint:gosec // G204: bin was just built by the test
			if err != nil {
				t.Fatalf("%s version: %v\n%s", tc.name, err, out)
			}
			want := tc.name + " v9.8.7-test (commit 0123456789ab, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
			if string(out) != want {
				t.Errorf("%s version printed %q, want %q", tc.name, out, want)
			}
			out, err = exec.CommandContext(t.Context(), bin, "version", "extra").CombinedOutput() //nolint:gosec // G204: bin was just built by the test
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "unexpected arguments") {
				t.Errorf("%s version extra: %v\n%s; want exit 2 for the usage error", tc.name, err, out)
			}
		})
	}
}

func TestCommitFallsBackToTheBuildInfo(t *testing.T) {
	t.Parallel()
	withRevision := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "fedcba9876543210"}}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		stamped string
		read    func() (*debug.BuildInfo, bool)
		want    string
	}{
		{"abc1234", withRevision, "abc1234"},
		{"unknown", withRevision, "fedcba987654"},
		{"", withRevision, "fedcba987654"},
		{"unknown", none, "unknown"},
		{"unknown", func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{}, true }, "unknown"},
	} {
		if got := commit(tc.stamped, tc.read); got != tc.want {
			t.Errorf("commit(%q) = %q, want %q", tc.stamped, got, tc.want)
		}
	}
}

func TestInfoString(t *testing.T) {
	t.Parallel()
	got := Info{Version: "v0.3.0", Commit: "abc1234", GoVersion: "go1.26.8", Platform: "linux/amd64"}.String()
	if want := "v0.3.0 (commit abc1234, go1.26.8, linux/amd64)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
