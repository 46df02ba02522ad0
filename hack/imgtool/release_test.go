// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The tests of this file run `make release` once, for both platforms, into
// a temporary dist/ (the binaries come from the Go build cache after the
// first run), and check what it wrote the way a user would use it.

// releaseVersion is the version the release tests build.
const releaseVersion = "v0.0.0-test.1"

var release struct {
	once sync.Once
	dist string
	out  string
	err  error
}

// repoRoot is the repository's top directory (this module is hack/imgtool).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hack", "make", "release.mk")); err != nil {
		t.Fatalf("repository root not found from hack/imgtool: %v", err)
	}
	return root
}

// runMake runs make in the repository with args, in an environment without
// the calling make's flags, and returns its combined output.
func runMake(t *testing.T, args ...string) (string, error) {
	t.Helper()
	args = append([]string{"-C", repoRoot(t), "--no-print-directory"}, args...)
	cmd := exec.Command("make", args...) //nolint:gosec // G204: the test's own make arguments
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" && k != "VERSION" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// releaseDist runs `make release VERSION=releaseVersion` into a temporary
// directory once, and returns that directory.
func releaseDist(t *testing.T) string {
	t.Helper()
	release.once.Do(func() {
		release.dist, release.err = os.MkdirTemp("", "chathub-release-test-")
		if release.err != nil {
			return
		}
		release.out, release.err = runMake(t, "release", "VERSION="+releaseVersion, "DIST="+release.dist)
	})
	if release.err != nil {
		t.Fatalf("make release: %v\n%s", release.err, release.out)
	}
	return release.dist
}

func TestMain(m *testing.M) {
	code := m.Run()
	if release.dist != "" {
		_ = os.RemoveAll(release.dist) // a temporary directory
	}
	os.Exit(code)
}

// TestMakeReleaseChecksTheVersion runs only the version check of make
// release: a release version is given and is vX.Y.Z[-pre]; anything else
// stops make with a sentence and exit status 2.
func TestMakeReleaseChecksTheVersion(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr string // empty: accepted
	}{
		"a plain version":                    {args: []string{"VERSION=v1.2.3"}},
		"a pre-release":                      {args: []string{"VERSION=v0.2.0-rc.1"}},
		"no VERSION":                         {wantErr: "A release needs its version"},
		"no v":                               {args: []string{"VERSION=1.2.3"}, wantErr: "is not a release version"},
		"two numbers":                        {args: []string{"VERSION=v1.2"}, wantErr: "is not a release version"},
		"a leading zero":                     {args: []string{"VERSION=v1.02.3"}, wantErr: "is not a release version"},
		"build metadata (no image tag form)": {args: []string{"VERSION=v1.2.3+abc"}, wantErr: "is not a release version"},
		"an empty pre-release":               {args: []string{"VERSION=v1.2.3-"}, wantErr: "is not a release version"},
		"a git describe":                     {args: []string{"VERSION=5b5b008-dirty"}, wantErr: "is not a release version"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := runMake(t, append([]string{"release-version"}, tc.args...)...)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("make release-version %v: %v\n%s", tc.args, err, out)
				}
				return
			}
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 || !strings.Contains(out, tc.wantErr) {
				t.Fatalf("make release-version %v = %v\n%s\nwant exit status 2 and %q", tc.args, err, out, tc.wantErr)
			}
		})
	}
}

// TestReleaseImageHasEveryPlatform opens the release image the way
// image-push does and checks each platform's image: its descriptor and
// config platform, and that its binaries are for that machine, stamped with
// the release version.
func TestReleaseImageHasEveryPlatform(t *testing.T) {
	dist := releaseDist(t)
	idx, closeFn, err := OpenOCI(filepath.Join(dist, "chathub-image-"+releaseVersion+".oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type = %q, want %q", im.MediaType, types.OCIImageIndex)
	}
	if got := im.Annotations["org.opencontainers.image.version"]; got != releaseVersion {
		t.Errorf("index version annotation = %q, want %q", got, releaseVersion)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	var platforms []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		platforms = append(platforms, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != d.Platform.OS || cf.Architecture != d.Platform.Architecture {
			t.Errorf("%s: config says %s/%s", d.Platform, cf.OS, cf.Architecture)
		}
		if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != "/chathub" || cf.Config.User != "65532:65532" {
			t.Errorf("%s: entrypoint %q user %q, want [/chathub] 65532:65532", d.Platform, got, cf.Config.User)
		}
		files := imageFiles(t, img, "chathub", "chathub-data", "etc/ssl/certs/ca-certificates.crt")
		for _, bin := range []string{"chathub", "chathub-data"} {
			f, err := elf.NewFile(bytes.NewReader(files[bin]))
			if err != nil {
				t.Fatalf("%s: /%s is not an ELF file: %v", d.Platform, bin, err)
			}
			if want, ok := machines[d.Platform.Architecture]; !ok || f.Machine != want {
				t.Errorf("%s: /%s is for %v, want %v", d.Platform, bin, f.Machine, want)
			}
		}
		if d.Platform.Architecture == runtime.GOARCH && runtime.GOOS == "linux" {
			checkVersion(t, files["chathub"])
		}
	}
	if got := strings.Join(platforms, " "); got != "linux/amd64 linux/arm64" {
		t.Errorf("index platforms = %q, want linux/amd64 linux/arm64", got)
	}
}

// imageFiles returns the content of the named files of img's layers,
// failing when one is missing.
func imageFiles(t *testing.T, img v1.Image, names ...string) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if want[hdr.Name] {
				if files[hdr.Name], err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
		}
		rc.Close()
	}
	for _, n := range names {
		if files[n] == nil {
			t.Fatalf("the image has no /%s", n)
		}
	}
	return files
}

// checkVersion runs the chathub binary bin with `version` and checks it
// prints the release version, this commit and platform.
func checkVersion(t *testing.T, bin []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chathub")
	if err := os.WriteFile(path, bin, 0o700); err != nil { //nolint:gosec // G306: the binary must be executable
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").CombinedOutput() //nolint:gosec // G204: the binary the test took out of the release image
	if err != nil {
		t.Fatalf("chathub version: %v\n%s", err, out)
	}
	commit, err := exec.Command("git", "-C", repoRoot(t), "rev-parse", "--short=12", "HEAD").Output() //nolint:gosec // G204: git in this repository
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s (commit %s, ", releaseVersion, strings.TrimSpace(string(commit)))
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "linux/"+runtime.GOARCH) {
		t.Errorf("chathub version printed %q, want it to contain %q and linux/%s", out, want, runtime.GOARCH)
	}
}

// TestReleaseChartHasTheVersion checks the packaged chart's Chart.yaml and
// that its default image is the release's.
func TestReleaseChartHasTheVersion(t *testing.T) {
	dist := releaseDist(t)
	chart := filepath.Join(dist, "chathub-operator-"+strings.TrimPrefix(releaseVersion, "v")+".tgz")
	fields := chartFields(t, chart)
	if fields["version"] != strings.TrimPrefix(releaseVersion, "v") || fields["appVersion"] != releaseVersion {
		t.Errorf("Chart.yaml version %q appVersion %q, want %q and %q",
			fields["version"], fields["appVersion"], strings.TrimPrefix(releaseVersion, "v"), releaseVersion)
	}
	helm := os.Getenv("HELM")
	if helm == "" {
		helm = filepath.Join(repoRoot(t), "bin", "helm")
	}
	args := []string{"template", "chathub-operator", chart, "--kube-version", "1.37.0"}
	out, err := exec.Command(helm, args...).CombinedOutput() //nolint:gosec // G204: the helm the Makefile names (HELM) and the chart the release wrote
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	want := `image: "ghcr.io/chathub/chathub:` + releaseVersion + `"`
	if !strings.Contains(string(out), want) {
		t.Errorf("the packaged chart's manifests lack %s", want)
	}
}

// chartFields returns the top-level scalar fields of the Chart.yaml in the
// chart package path.
func chartFields(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path) //nolint:gosec // G304: the chart package the release wrote
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read only
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no chathub-operator/Chart.yaml in %s: %v", path, err)
		}
		if hdr.Name != "chathub-operator/Chart.yaml" {
			continue
		}
		fields := map[string]string{}
		sc := bufio.NewScanner(tr)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ": "); ok && !strings.HasPrefix(k, " ") {
				fields[k] = strings.Trim(v, `"'`)
			}
		}
		return fields
	}
}

// TestReleaseSHA256SUMS checks SHA256SUMS lists every artifact with its
// digest.
func TestReleaseSHA256SUMS(t *testing.T) {
	dist := releaseDist(t)
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS")) //nolint:gosec // G304: a file the release wrote
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not 'sum  name'", line)
		}
		data, err := os.ReadFile(filepath.Join(dist, name)) //nolint:gosec // G304: a file the release wrote (SHA256SUMS names it)
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS says %s for %s, its sha256 is %x", sum, name, h)
		}
		listed = append(listed, name)
	}
	want := "chathub-image-" + releaseVersion + ".oci.tar chathub-operator-" + strings.TrimPrefix(releaseVersion, "v") + ".tgz"
	if got := strings.Join(listed, " "); got != want {
		t.Errorf("SHA256SUMS lists %q, want %q", got, want)
	}
}

// TestImagePushWritesEveryPlatform pushes the release image to
// go-containerregistry's registry on 127.0.0.1 with image-push's code path
// and pulls it back.
func TestImagePushWritesEveryPlatform(t *testing.T) {
	dist := releaseDist(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	var stdout bytes.Buffer
	ref := host + "/team/chathub:" + releaseVersion
	if err := run([]string{"push", "-src", filepath.Join(dist, "chathub-image-"+releaseVersion+".oci.tar"), ref}, &stdout); err != nil {
		t.Fatal(err)
	}
	local, closeFn, err := OpenOCI(filepath.Join(dist, "chathub-image-"+releaseVersion+".oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	want, err := local.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(stdout.String()); got != host+"/team/chathub@"+want.String() {
		t.Errorf("push printed %q, want %s/team/chathub@%s", got, host, want)
	}

	r, err := ParsePushRef(ref, false)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(r, remote.WithContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pulled.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("pulled index digest %s, pushed %s", got, want)
	}
	im, err := local.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		img, err := remote.Image(r.Context().Digest(d.Digest.String()))
		if err != nil {
			t.Fatalf("%s: %v", d.Platform, err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			if _, err := l.Size(); err != nil {
				t.Fatalf("%s: %v", d.Platform, err)
			}
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("%s: pulling a layer: %v", d.Platform, err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("%s: pulling a layer: %v", d.Platform, err)
			}
			rc.Close()
		}
	}
}
