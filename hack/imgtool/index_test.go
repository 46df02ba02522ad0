// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// indexSpec is a two-platform spec whose one file comes from a folder per
// platform, each holding its platform's name.
func indexSpec(t *testing.T) IndexSpec {
	t.Helper()
	dir := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		if err := os.MkdirAll(filepath.Join(dir, "linux_"+arch), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "linux_"+arch, "app"), []byte("app for "+arch), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return IndexSpec{
		Spec: Spec{Tag: "example.com/app:v1", Entrypoint: "/app", Files: []FileSpec{
			{Src: filepath.Join(dir, "{os}_{arch}", "app"), Dst: "/app", Mode: 0o755},
		}},
		Platforms:   []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}},
		Annotations: map[string]string{"org.opencontainers.image.version": "v1"},
	}
}

func TestBuildIndexGivesEachPlatformItsFiles(t *testing.T) {
	idx, err := BuildIndex(indexSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index lists %d manifests, want 2", len(im.Manifests))
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		files := imageFiles(t, img, "app")
		if want := "app for " + d.Platform.Architecture; string(files["app"]) != want {
			t.Errorf("%s: /app holds %q, want %q", d.Platform, files["app"], want)
		}
		mt, err := img.MediaType()
		if err != nil || !strings.Contains(string(mt), "oci") {
			t.Errorf("%s: manifest media type %q (%v), want an OCI one", d.Platform, mt, err)
		}
	}
}

func TestBuildIndexRefusesBadPlatforms(t *testing.T) {
	tests := map[string]struct {
		platforms []v1.Platform
		wantErr   string
	}{
		"none":            {wantErr: "at least one"},
		"not linux":       {platforms: []v1.Platform{{OS: "windows", Architecture: "amd64"}}, wantErr: "only linux"},
		"twice the same":  {platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "amd64"}}, wantErr: "twice"},
		"no architecture": {platforms: []v1.Platform{{OS: "linux"}}, wantErr: "only linux"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := indexSpec(t)
			s.Platforms = tc.platforms
			if _, err := BuildIndex(s); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("BuildIndex error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestOCIArchiveIsReproducibleAndReadBack(t *testing.T) {
	idx, err := BuildIndex(indexSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	for _, out := range []string{a, b} {
		if err := WriteOCIArchive(out, idx, "example.com/app:v1"); err != nil {
			t.Fatal(err)
		}
	}
	ab, errA := os.ReadFile(a) //nolint:gosec // G304: a file of the test's temporary directory
	bb, errB := os.ReadFile(b) //nolint:gosec // G304: a file of the test's temporary directory
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if len(ab) == 0 || !bytes.Equal(ab, bb) {
		t.Fatalf("two writes of one index differ (%d and %d bytes)", len(ab), len(bb))
	}
	back, closeFn, err := OpenOCI(a)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	want, _ := idx.Digest()
	if got, err := back.Digest(); err != nil || got != want {
		t.Fatalf("read back index %s (%v), wrote %s", got, err, want)
	}
	im, err := back.IndexManifest()
	if err != nil || im.Annotations["org.opencontainers.image.version"] != "v1" {
		t.Fatalf("read back annotations %v (%v)", im, err)
	}
}

func TestOpenOCIRefusesBadArchives(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, entries ...tar.Header) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range entries {
			if err := tw.WriteHeader(&h); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(make([]byte, h.Size)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := map[string]struct {
		src     string
		wantErr string
	}{
		"a path leaving the layout": {src: write("up.tar", tar.Header{Name: "../x", Typeflag: tar.TypeReg, Size: 1}), wantErr: "leaves the layout"},
		"an absolute path":          {src: write("abs.tar", tar.Header{Name: "/etc/x", Typeflag: tar.TypeReg, Size: 1}), wantErr: "leaves the layout"},
		"a symbolic link":           {src: write("link.tar", tar.Header{Name: "x", Typeflag: tar.TypeSymlink, Linkname: "/etc"}), wantErr: "neither a file nor a directory"},
		"no index.json":             {src: write("empty.tar", tar.Header{Name: "oci-layout", Typeflag: tar.TypeReg, Size: 1}), wantErr: "not an OCI image layout"},
		"a missing file":            {src: filepath.Join(dir, "nothing.tar"), wantErr: "no such file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := OpenOCI(tc.src); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("OpenOCI error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParsePushRef(t *testing.T) {
	tests := map[string]struct {
		ref        string
		insecure   bool
		wantScheme string
		wantErr    string
	}{
		"a local registry speaks http":           {ref: "127.0.0.1:5001/chathub:v1", wantScheme: "http"},
		"a remote registry speaks https":         {ref: "registry.example.com/team/chathub:v1", wantScheme: "https"},
		"-insecure lets a remote one speak http": {ref: "registry.example.com/team/chathub:v1", insecure: true, wantScheme: "http"},
		"a digest reference":                     {ref: "registry.example.com/chathub@sha256:" + strings.Repeat("a", 64), wantScheme: "https"},
		"no registry":                            {ref: "chathub/chathub:v1", wantErr: "does not name its registry"},
		"no repository":                          {ref: "chathub:v1", wantErr: "does not name its registry"},
		"no tag":                                 {ref: "registry.example.com/chathub", wantErr: "not a registry/repository:tag"},
		"a bad tag":                              {ref: "registry.example.com/chathub:v 1", wantErr: "not a registry/repository:tag"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, err := ParsePushRef(tc.ref, tc.insecure)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParsePushRef(%q) error = %v, want one containing %q", tc.ref, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Context().Scheme(); got != tc.wantScheme {
				t.Errorf("ParsePushRef(%q) scheme %s, want %s", tc.ref, got, tc.wantScheme)
			}
		})
	}
}

func TestRunIndexAndPushRefuseBadArguments(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"index without -name":         {args: []string{"index", "-o", filepath.Join(dir, "x.tar"), "-platform", "linux/amd64", "-entrypoint", "/x"}, wantErr: "-name are required"},
		"index with a bad platform":   {args: []string{"index", "-platform", "linux/amd64/v8/x"}, wantErr: "platform"},
		"index with a bad annotation": {args: []string{"index", "-annotation", "novalue"}, wantErr: "KEY=VALUE"},
		"index with a missing binary": {args: []string{"index", "-o", filepath.Join(dir, "x.tar"), "-name", "example.com/x:v1", "-platform", "linux/amd64", "-entrypoint", "/x", "-add", "/no/such/{arch}:/x"}, wantErr: "/no/such/amd64"},
		"push without a target":       {args: []string{"push", "-src", dir}, wantErr: "usage"},
		"push to no registry":         {args: []string{"push", "-src", dir, "chathub:v1"}, wantErr: "does not name its registry"},
		"push of a missing layout":    {args: []string{"push", "-src", filepath.Join(dir, "none.tar"), "127.0.0.1:1/x:v1"}, wantErr: "no such file"},
		"push of an empty directory":  {args: []string{"push", "-src", dir, "127.0.0.1:1/x:v1"}, wantErr: "not an OCI image layout"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(tc.args, &out); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}
