// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command imgtool builds a single-layer container image from local files and
// writes it as a docker tarball (`docker load` / `ctr images import` format),
// without a Docker engine or a registry. `make image` uses it for the chathub
// image and the local cluster's pause image.
//
// Usage:
//
//	imgtool -o out.tar -tag chathub:dev -entrypoint /chathub -user 65532:65532 \
//	    -add bin/images/chathub:/chathub:0755 \
//	    -add /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:0644 \
//	    -nonroot
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("imgtool", flag.ContinueOnError)
	var (
		spec  Spec
		files fileList
		env   envList
		out   = fs.String("o", "", "output docker tarball (required)")
	)
	fs.StringVar(&spec.Tag, "tag", "", "image reference written into the tarball, e.g. chathub:dev (required)")
	fs.StringVar(&spec.Entrypoint, "entrypoint", "", "entrypoint path inside the image (required)")
	fs.StringVar(&spec.User, "user", "", "user[:group] the image runs as, e.g. 65532:65532")
	fs.StringVar(&spec.WorkDir, "workdir", "/", "working directory")
	fs.BoolVar(&spec.NonRoot, "nonroot", false, "add /etc/passwd, /etc/group, /tmp and /home/nonroot like distroless' nonroot variant")
	fs.StringVar(&spec.Arch, "arch", "amd64", "image architecture")
	fs.Var(&files, "add", "src:dst[:octal mode] file to put in the layer (repeatable)")
	fs.Var(&env, "env", "KEY=VALUE environment variable (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; files go in -add flags", fs.Args())
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
	fmt.Fprintf(stdout, "%s %s -> %s\n", spec.Tag, digest, *out)
	return nil
}
