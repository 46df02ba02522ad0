// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ParsePushRef parses the reference an index is pushed to. It must name its
// registry and its tag (or digest) explicitly, e.g.
// registry.example.com/team/chathub:v0.1.0: no image goes to Docker Hub or
// to "latest" by omission. insecure lets the registry speak plain HTTP
// (127.0.0.1, localhost and private addresses always may).
func ParsePushRef(ref string, insecure bool) (name.Reference, error) {
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	first, _, hasSlash := strings.Cut(ref, "/")
	if !hasSlash || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return nil, fmt.Errorf("image %q does not name its registry: give registry/repository:tag, e.g. 127.0.0.1:5001/chathub:v0.1.0", ref)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("image %q is not a registry/repository:tag reference: %w", ref, err)
	}
	return r, nil
}

// Push writes idx, every platform's image with it, to ref, with the
// credentials of the Docker config (~/.docker/config.json, $DOCKER_CONFIG,
// credential helpers). It returns the digest of the index.
func Push(ctx context.Context, idx v1.ImageIndex, ref name.Reference) (v1.Hash, error) {
	d, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing to %s: %w", ref, err)
	}
	return d, nil
}
