// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonRootUID is the uid and gid of distroless' "nonroot" user.
const nonRootUID = 65532

// epoch is the timestamp of every layer entry and of the image, so that the
// same inputs always give the same image digest.
var epoch = time.Unix(0, 0).UTC()

// FileSpec is one local file copied into the image.
type FileSpec struct {
	Src  string      // path on this machine
	Dst  string      // absolute path inside the image
	Mode os.FileMode // permission bits
}

// ParseFileSpec parses "src:dst[:mode]" with an octal mode (default 0644, or
// 0755 when the source is executable).
func ParseFileSpec(v string) (FileSpec, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return FileSpec{}, fmt.Errorf("file %q: want src:dst[:mode]", v)
	}
	if !strings.HasPrefix(parts[1], "/") {
		return FileSpec{}, fmt.Errorf("file %q: destination must be absolute", v)
	}
	f := FileSpec{Src: parts[0], Dst: path.Clean(parts[1])}
	if len(parts) == 3 {
		m, err := strconv.ParseUint(parts[2], 8, 32)
		if err != nil || m > 0o7777 {
			return FileSpec{}, fmt.Errorf("file %q: mode %q is not an octal permission", v, parts[2])
		}
		f.Mode = os.FileMode(m)
	}
	return f, nil
}

// Spec describes the image to build.
type Spec struct {
	Tag        string
	Entrypoint string
	User       string
	WorkDir    string
	Env        []string
	Arch       string
	Variant    string // CPU variant, e.g. "v8" for arm64; usually empty
	NonRoot    bool
	Files      []FileSpec
	// OCI gives the manifest, config and layer OCI media types instead of
	// Docker's (multi-platform indexes are OCI throughout).
	OCI bool
}

// Validate reports the first problem of the spec.
func (s Spec) Validate() error {
	if s.Tag == "" {
		return errors.New("-tag is required")
	}
	if _, err := name.NewTag(s.Tag); err != nil {
		return fmt.Errorf("tag %q: %w", s.Tag, err)
	}
	if !strings.HasPrefix(s.Entrypoint, "/") {
		return errors.New("-entrypoint must be an absolute path in the image")
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("env %q: want KEY=VALUE", e)
		}
	}
	return nil
}

// Build assembles the image: one layer with the files, a config with the
// entrypoint, user, environment and working directory.
func Build(s Spec) (v1.Image, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	layerBytes, err := layerTar(s)
	if err != nil {
		return nil, err
	}
	base := empty.Image
	var layerOpts []tarball.LayerOption
	if s.OCI {
		base = mutate.ConfigMediaType(mutate.MediaType(base, types.OCIManifestSchema1), types.OCIConfigJSON)
		layerOpts = append(layerOpts, tarball.WithMediaType(types.OCILayer))
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, layerOpts...)
	if err != nil {
		return nil, fmt.Errorf("creating layer: %w", err)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: epoch}, CreatedBy: "imgtool", Comment: "files: " + strconv.Itoa(len(s.Files)),
	}})
	if err != nil {
		return nil, fmt.Errorf("appending layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", s.Arch, s.Variant
	cf.Created = v1.Time{Time: epoch}
	env := append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, s.Env...)
	cf.Config = v1.Config{Entrypoint: []string{s.Entrypoint}, User: s.User, WorkingDir: s.WorkDir, Env: env}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("writing config: %w", err)
	}
	return img, nil
}

// WriteTarball builds the image and writes it atomically to out, returning
// its digest.
func WriteTarball(out string, s Spec) (string, error) {
	img, err := Build(s)
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag(s.Tag)
	if err != nil {
		return "", err
	}
	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		_ = os.Remove(tmp) // best effort; the error says what went wrong
		return "", fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// entry is one tar entry of the layer.
type entry struct {
	hdr  tar.Header
	data []byte
}

// layerTar writes the layer: parent directories, the nonroot skeleton when
// asked, then the files, sorted by path, owned by root.
func layerTar(s Spec) ([]byte, error) {
	entries := map[string]entry{}
	addDir := func(p string, mode int64, uid int) {
		for d := p; d != "/" && d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}}
			}
		}
		e := entries[p]
		e.hdr.Mode, e.hdr.Uid, e.hdr.Gid = mode, uid, uid
		entries[p] = e
	}
	addFile := func(p string, mode int64, data []byte) {
		addDir(path.Dir(p), 0o755, 0)
		entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(data))}, data: data}
	}
	if s.NonRoot {
		addDir("/tmp", 0o1777, 0)
		addDir("/home/nonroot", 0o700, nonRootUID)
		addFile("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
		addFile("/etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n"))
	}
	for _, f := range s.Files {
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Src, err)
		}
		mode := int64(f.Mode)
		if mode == 0 {
			mode = 0o644
			if st, err := os.Stat(f.Src); err == nil && st.Mode()&0o111 != 0 {
				mode = 0o755
			}
		}
		addFile(f.Dst, mode, data)
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := entries[n]
		e.hdr.Name = strings.TrimPrefix(n, "/")
		if e.hdr.Typeflag == tar.TypeDir {
			e.hdr.Name += "/"
		}
		e.hdr.ModTime = epoch
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, fmt.Errorf("writing %s: %w", n, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
