// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of an OCI layout's index.json naming the image it holds:
// the OCI one carries the tag, containerd's (`ctr images import`) the
// whole reference.
const (
	annotationRefName        = "org.opencontainers.image.ref.name"
	annotationContainerdName = "io.containerd.image.name"
)

// IndexSpec describes a multi-platform image: Spec built once per platform.
// In a file's source, "{os}", "{arch}" and "{variant}" stand for the
// platform's, so each image gets the binaries built for it.
type IndexSpec struct {
	Spec        Spec
	Platforms   []v1.Platform
	Annotations map[string]string // annotations of the index
}

// BuildIndex builds one OCI image per platform and an OCI image index
// listing them with their platforms.
func BuildIndex(s IndexSpec) (v1.ImageIndex, error) {
	if len(s.Platforms) == 0 {
		return nil, errors.New("an index needs at least one -platform")
	}
	seen := map[string]bool{}
	adds := make([]mutate.IndexAddendum, 0, len(s.Platforms))
	for _, p := range s.Platforms {
		if p.OS != "linux" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: only linux/<arch>[/<variant>] images are built", p.String())
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("platform %q is given twice", p.String())
		}
		seen[p.String()] = true
		ps := s.Spec
		ps.Arch, ps.Variant, ps.OCI = p.Architecture, p.Variant, true
		ps.Files = make([]FileSpec, len(s.Spec.Files))
		r := strings.NewReplacer("{os}", p.OS, "{arch}", p.Architecture, "{variant}", p.Variant)
		for i, f := range s.Spec.Files {
			f.Src = r.Replace(f.Src)
			ps.Files[i] = f
		}
		img, err := Build(ps)
		if err != nil {
			return nil, fmt.Errorf("platform %s: %w", p.String(), err)
		}
		platform := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &platform}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if len(s.Annotations) > 0 {
		idx = mutate.Annotations(idx, s.Annotations).(v1.ImageIndex)
	}
	return idx, nil
}

// WriteOCIArchive writes idx atomically to out as a tar of an OCI image
// layout (what `ctr images import`, `skopeo copy oci-archive:` and
// `imgtool push` read), naming it ref (e.g. ghcr.io/chathub/chathub:v0.1.0)
// in index.json. The same index always gives the same bytes.
func WriteOCIArchive(out string, idx v1.ImageIndex, ref string) error {
	tag := ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		tag = ref[i+1:]
	}
	dir, err := os.MkdirTemp(filepath.Dir(out), ".oci-layout-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary copy
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		annotationRefName: tag, annotationContainerdName: ref,
	})); err != nil {
		return fmt.Errorf("writing the OCI layout: %w", err)
	}
	tmp := out + ".tmp"
	if err := tarDir(dir, tmp); err != nil {
		_ = os.Remove(tmp) // best effort; the error says what went wrong
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

// tarDir writes the files under dir into the tar file out, in lexical
// order, owned by root, with the epoch as their time.
func tarDir(dir, out string) (err error) {
	f, err := os.Create(out) //nolint:gosec // G304: the output file the caller names
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		src, err := os.Open(p) //nolint:gosec // G304: a file of the layout just written
		if err != nil {
			return err
		}
		defer func() { _ = src.Close() }() // read only
		st, err := src.Stat()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, st.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// OpenOCI opens the multi-platform image held by an OCI layout: a directory
// or a tar of one (as WriteOCIArchive writes). The layout must name exactly
// one image index. A tar is unpacked into a temporary directory that close
// removes; call close when done with the index.
func OpenOCI(src string) (idx v1.ImageIndex, closeFn func(), err error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, nil, err
	}
	dir, closeFn := src, func() {}
	if !st.IsDir() {
		tmp, err := os.MkdirTemp("", "imgtool-oci-")
		if err != nil {
			return nil, nil, err
		}
		closeFn = func() { _ = os.RemoveAll(tmp) }
		if err := untar(src, tmp); err != nil {
			closeFn()
			return nil, nil, fmt.Errorf("%s is not an OCI layout tarball: %w", src, err)
		}
		dir = tmp
	}
	idx, err = nestedIndex(dir)
	if err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("%s: %w", src, err)
	}
	return idx, closeFn, nil
}

// nestedIndex returns the one image index an OCI layout's index.json lists.
func nestedIndex(dir string) (v1.ImageIndex, error) {
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	var found []v1.Descriptor
	for _, d := range m.Manifests {
		if d.MediaType.IsIndex() {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("the layout lists %d image indexes, want exactly one multi-platform image", len(found))
	}
	return top.ImageIndex(found[0].Digest)
}

// untar unpacks the regular files and directories of the tar file src into
// dir, refusing any other entry and any path leaving dir.
func untar(src, dir string) error {
	f, err := os.Open(src) //nolint:gosec // G304: the layout tarball the user names
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(strings.TrimSuffix(hdr.Name, "/"))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("entry %q leaves the layout", hdr.Name)
		}
		dst := filepath.Join(dir, name)
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o750); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(dst, tr); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q is neither a file nor a directory", hdr.Name)
		}
	}
}

func writeFile(dst string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600) //nolint:gosec // G304: dst is inside the temporary directory (untar checked the name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		_ = out.Close() // the copy's error is the one to report
		return err
	}
	return out.Close()
}
