// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command imgtool builds single-layer container images from local files
// without a Docker engine, and pushes them. `make image` uses it for the
// chathub image and the local cluster's pause image (a docker tarball,
// `docker load` / `ctr images import` format); `make release` for the
// multi-platform release image (an OCI layout tarball holding an image
// index); `make image-push` to push that index to a registry.
//
// Usage:
//
//	imgtool -o out.tar -tag chathub:dev -entrypoint /chathub -user 65532:65532 \
//	    -add bin/images/chathub:/chathub:0755 \
//	    -add /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:0644 \
//	    -nonroot
//	imgtool index -o out.oci.tar -name ghcr.io/chathub/chathub:v0.1.0 \
//	    -platform linux/amd64 -platform linux/arm64 -entrypoint /chathub \
//	    -add 'dist/.build/{os}_{arch}/chathub:/chathub:0755'
//	imgtool push -src out.oci.tar [-insecure] registry.example.com/chathub:v0.1.0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "imgtool:", err)
		os.Exit(1)
	}
}

// fileList collects repeated -add flags.
type fileList []FileSpec

func (l *fileList) String() string { return fmt.Sprint(len(*l), " files") }

func (l *fileList) Set(v string) error {
	f, err := ParseFileSpec(v)
	if err != nil {
		return err
	}
	*l = append(*l, f)
	return nil
}

// envList collects repeated -env flags.
type envList []string

func (l *envList) String() string { return fmt.Sprint(*l) }

func (l *envList) Set(v string) error { *l = append(*l, v); return nil }

// platformList collects repeated -platform flags.
type platformList []v1.Platform

func (l *platformList) String() string { return fmt.Sprint(len(*l), " platforms") }

func (l *platformList) Set(v string) error {
	p, err := v1.ParsePlatform(v)
	if err != nil {
		return fmt.Errorf("platform %q: %w", v, err)
	}
	*l = append(*l, *p)
	return nil
}

// annotationMap collects repeated -annotation flags.
type annotationMap map[string]string

func (m annotationMap) String() string { return fmt.Sprint(len(m), " annotations") }

func (m annotationMap) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("annotation %q: want KEY=VALUE", v)
	}
	m[k] = val
	return nil
}

func run(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "index":
			return runIndex(args[1:], stdout)
		case "push":
			return runPush(args[1:], stdout)
		}
	}
	return runImage(args, stdout)
}

// imageFlags registers the flags describing one image's content on fs.
func imageFlags(fs *flag.FlagSet, spec *Spec, files *fileList, env *envList) {
	fs.StringVar(&spec.Entrypoint, "entrypoint", "", "entrypoint path inside the image (required)")
	fs.StringVar(&spec.User, "user", "", "user[:group] the image runs as, e.g. 65532:65532")
	fs.StringVar(&spec.WorkDir, "workdir", "/", "working directory")
	fs.BoolVar(&spec.NonRoot, "nonroot", false, "add /etc/passwd, /etc/group, /tmp and /home/nonroot like distroless' nonroot variant")
	fs.Var(files, "add", "src:dst[:octal mode] file to put in the layer (repeatable)")
	fs.Var(env, "env", "KEY=VALUE environment variable (repeatable)")
}

// parseNoArgs parses args and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; files go in -add flags", fs.Args())
	}
	return nil
}

// runImage writes one image as a docker tarball.
func runImage(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("imgtool", flag.ContinueOnError)
	var (
		spec  Spec
		files fileList
		env   envList
		out   = fs.String("o", "", "output docker tarball (required)")
	)
	fs.StringVar(&spec.Tag, "tag", "", "image reference written into the tarball, e.g. chathub:dev (required)")
	fs.StringVar(&spec.Arch, "arch", "amd64", "image architecture")
	imageFlags(fs, &spec, &files, &env)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-o is required")
	}
	spec.Files = files
	spec.Env = env
	digest, err := WriteTarball(*out, spec)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s %s -> %s\n", spec.Tag, digest, *out)
	return err
}

// runIndex writes a multi-platform image as an OCI layout tarball.
func runIndex(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("imgtool index", flag.ContinueOnError)
	var (
		s         = IndexSpec{Annotations: annotationMap{}}
		files     fileList
		env       envList
		platforms platformList
		out       = fs.String("o", "", "output OCI layout tarball (required)")
	)
	fs.StringVar(&s.Spec.Tag, "name", "", "image reference recorded in the layout, e.g. ghcr.io/chathub/chathub:v0.1.0 (required)")
	fs.Var(&platforms, "platform", "os/arch[/variant] of one image of the index (repeatable; at least one)")
	fs.Var(annotationMap(s.Annotations), "annotation", "KEY=VALUE annotation of the index (repeatable)")
	imageFlags(fs, &s.Spec, &files, &env)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *out == "" || s.Spec.Tag == "" {
		return errors.New("-o and -name are required")
	}
	s.Spec.Files, s.Spec.Env, s.Platforms = files, env, platforms
	idx, err := BuildIndex(s)
	if err != nil {
		return err
	}
	if err := WriteOCIArchive(*out, idx, s.Spec.Tag); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s %s (%s) -> %s\n", s.Spec.Tag, d, platforms.String(), *out)
	return err
}

// runPush pushes the multi-platform image of an OCI layout to a registry.
func runPush(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("imgtool push", flag.ContinueOnError)
	src := fs.String("src", "", "OCI layout directory or tarball holding one image index (required)")
	insecure := fs.Bool("insecure", false, "allow plain HTTP to the registry (127.0.0.1 and localhost always may)")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(fs.Output(), "Usage: imgtool push -src dist/chathub-image-v0.1.0.oci.tar [-insecure] registry/repository:tag")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *src == "" || fs.NArg() != 1 {
		return errors.New("usage: imgtool push -src LAYOUT [-insecure] registry/repository:tag")
	}
	ref, err := ParsePushRef(fs.Arg(0), *insecure)
	if err != nil {
		return err
	}
	idx, closeFn, err := OpenOCI(*src)
	if err != nil {
		return err
	}
	defer closeFn()
	d, err := Push(context.Background(), idx, ref)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s@%s\n", ref.Context(), d)
	return err
}
