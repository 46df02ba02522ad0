// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package version holds the version and git commit stamped into the
// chathub binaries at link time, and the chathub_build_info metric every
// component exposes. Stamp them with
//
//	go build -ldflags "-X github.com/chathub/chathub/internal/version.Version=v0.3.0 \
//	  -X github.com/chathub/chathub/internal/version.Commit=abc1234"
//
// An unstamped build reports "dev" and the commit the Go toolchain
// recorded (vcs.revision), or "unknown".
package version

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is the release version, e.g. "v0.3.0"; set with -ldflags -X.
var Version = "dev"

// Commit is the git commit the binary was built from; set with -ldflags -X.
// When unstamped, Get falls back to the vcs.revision of the build info.
var Commit = "unknown"

// Info describes the running binary.
type Info struct {
	// Version is the release version ("dev" when not stamped).
	Version string
	// Commit is the git commit, at most 12 characters ("unknown" when not known).
	Commit string
	// GoVersion is the Go toolchain that built the binary, e.g. "go1.26.8".
	GoVersion string
	// Platform is GOOS/GOARCH, e.g. "linux/amd64".
	Platform string
}

// Get returns the information about the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		Commit:    commit(Commit, debug.ReadBuildInfo),
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// commit returns stamped, else the vcs.revision of readBuildInfo, else
// "unknown"; shortened to 12 characters.
func commit(stamped string, readBuildInfo func() (*debug.BuildInfo, bool)) string {
	c := stamped
	if c == "" || c == "unknown" {
		if bi, ok := readBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		return "unknown"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	return c
}

// String formats i the way `chathub version` prints it, e.g.
// "v0.3.0 (commit abc1234, go1.26.8, linux/amd64)".
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}

// Print writes the line of `<name> version` to w.
func Print(w io.Writer, name string) error {
	_, err := fmt.Fprintf(w, "%s %s\n", name, Get())
	return err
}

// NewCollector returns the chathub_build_info gauge: always 1, with the
// version, commit and goversion labels of the running binary.
func NewCollector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "chathub", Name: "build_info",
		Help:        "Always 1; the labels name the version, git commit and Go version of the running binary.",
		ConstLabels: prometheus.Labels{"version": i.Version, "commit": i.Commit, "goversion": i.GoVersion},
	})
	g.Set(1)
	return g
}

// BuildInfoSample returns the line of chathub_build_info in the Prometheus
// text format as a /metrics page of this binary shows it.
func BuildInfoSample() string {
	i := Get()
	return fmt.Sprintf("chathub_build_info{commit=%q,goversion=%q,version=%q} 1", i.Commit, i.GoVersion, i.Version)
}
