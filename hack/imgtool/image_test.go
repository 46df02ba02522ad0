// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestParseFileSpec(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    FileSpec
		wantErr string
	}{
		"a source and destination keep the mode unset": {in: "a:/b", want: FileSpec{Src: "a", Dst: "/b"}},
		"an octal mode is parsed":                      {in: "a:/usr/bin/x:0755", want: FileSpec{Src: "a", Dst: "/usr/bin/x", Mode: 0o755}},
		"the destination is cleaned":                   {in: "a:/etc//x/", want: FileSpec{Src: "a", Dst: "/etc/x"}},
		"a relative destination is refused":            {in: "a:b", wantErr: "absolute"},
		"a missing destination is refused":             {in: "a", wantErr: "src:dst"},
		"a mode that is not octal is refused":          {in: "a:/b:rwx", wantErr: "octal"},
		"too many fields are refused":                  {in: "a:/b:0644:x", wantErr: "src:dst"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseFileSpec(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseFileSpec(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseFileSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestSpecValidateRefusesBadInput(t *testing.T) {
	tests := map[string]struct {
		spec    Spec
		wantErr string
	}{
		"a missing tag":              {spec: Spec{Entrypoint: "/x"}, wantErr: "-tag"},
		"a tag with spaces":          {spec: Spec{Tag: "a b:c", Entrypoint: "/x"}, wantErr: "tag"},
		"a relative entrypoint":      {spec: Spec{Tag: "x:1", Entrypoint: "x"}, wantErr: "entrypoint"},
		"an environment without '='": {spec: Spec{Tag: "x:1", Entrypoint: "/x", Env: []string{"FOO"}}, wantErr: "KEY=VALUE"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := tc.spec.Validate(); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestWriteTarballRoundTrip writes an image and reads it back the way
// `ctr images import` does: from the tarball's manifest by tag.
func TestWriteTarballRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o755); err != nil { //nolint:gosec // G306: executable, like the binaries an image holds
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	spec := Spec{
		Tag: "chathub:dev", Entrypoint: "/chathub", User: "65532:65532", WorkDir: "/", Arch: "amd64",
		NonRoot: true, Env: []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Files: []FileSpec{{Src: bin, Dst: "/chathub"}},
	}
	digest, err := WriteTarball(out, spec)
	if err != nil {
		t.Fatal(err)
	}
	again, err := WriteTarball(filepath.Join(dir, "again.tar"), spec)
	if err != nil {
		t.Fatal(err)
	}
	if digest != again {
		t.Errorf("digests of two builds differ: %s and %s; builds must be reproducible", digest, again)
	}

	tag, _ := name.NewTag("chathub:dev")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("reading the tarball back by tag: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/chathub" {
		t.Errorf("config user %q entrypoint %q, want 65532:65532 and [/chathub]", cf.Config.User, cf.Config.Entrypoint)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	contents := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		contents[h.Name] = b
	}
	checks := map[string]struct {
		mode int64
		uid  int
	}{
		"chathub":       {0o755, 0},
		"etc/passwd":    {0o644, 0},
		"tmp/":          {0o1777, 0},
		"home/nonroot/": {0o700, nonRootUID},
	}
	for p, want := range checks {
		h, ok := got[p]
		if !ok {
			t.Errorf("layer lacks %s; has %v", p, keys(got))
			continue
		}
		if h.Mode != want.mode || h.Uid != want.uid {
			t.Errorf("%s: mode %o uid %d, want mode %o uid %d", p, h.Mode, h.Uid, want.mode, want.uid)
		}
	}
	if !bytes.Equal(contents["chathub"], []byte("#!binary")) {
		t.Errorf("chathub content = %q, want the source file", contents["chathub"])
	}
	if !bytes.Contains(contents["etc/passwd"], []byte("nonroot:x:65532:65532:")) {
		t.Errorf("/etc/passwd lacks the nonroot user: %q", contents["etc/passwd"])
	}
}

func TestRunReportsMissingSource(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-o", filepath.Join(t.TempDir(), "x.tar"), "-tag", "x:1", "-entrypoint", "/x", "-add", "/no/such/file:/x"}, &out)
	if err == nil || !strings.Contains(err.Error(), "/no/such/file") {
		t.Fatalf("run() = %v, want an error naming the missing file", err)
	}
}

func keys(m map[string]*tar.Header) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return s
}
