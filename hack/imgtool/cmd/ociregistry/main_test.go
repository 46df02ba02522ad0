// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// serve runs the registry on a free loopback port with state in dir until
// the returned stop is called.
func serve(t *testing.T, dir string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"-listen", "127.0.0.1:0", "-dir", dir}, io.Discard, ready) }()
	select {
	case addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("the registry did not start: %v", err)
	}
	return addr, func() {
		// Connections the client dialed but left unused would hold the
		// shutdown for its grace period.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("the registry stopped with %v", err)
		}
	}
}

// TestRegistryKeepsPushedIndexesAcrossRestarts pushes a two-image index,
// restarts the registry on the same state and pulls it by tag.
func TestRegistryKeepsPushedIndexesAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	idx, err := random.Index(512, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serve(t, dir)
	ref, err := name.ParseReference(addr + "/chathub:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	stop()

	addr, stop = serve(t, dir)
	defer stop()
	ref, err = name.ParseReference(addr + "/chathub:v1")
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("pulling after a restart: %v", err)
	}
	if got, err := pulled.Digest(); err != nil || got != want {
		t.Fatalf("pulled %s (%v) after a restart, pushed %s", got, err, want)
	}
	im, err := pulled.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		img, err := remote.Image(ref.Context().Digest(d.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			readLayer(t, l)
		}
	}
	blobs, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil || len(blobs) == 0 {
		t.Fatalf("no blobs under the state directory (%v)", err)
	}
}

// readLayer pulls l, which checks its digest.
func readLayer(t *testing.T, l v1.Layer) {
	t.Helper()
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("pulling a layer: %v", err)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		args    []string
		wantErr string
	}{
		"no state directory":     {args: []string{"-listen", "127.0.0.1:0"}, wantErr: "-dir is required"},
		"every interface":        {args: []string{"-listen", ":5001", "-dir", dir}, wantErr: "loopback addresses only"},
		"a non-loopback address": {args: []string{"-listen", "10.0.0.1:5001", "-dir", dir}, wantErr: "loopback addresses only"},
		"a name":                 {args: []string{"-listen", "example.com:5001", "-dir", dir}, wantErr: "loopback addresses only"},
		"no port":                {args: []string{"-listen", "127.0.0.1", "-dir", dir}, wantErr: "missing port"},
		"an argument":            {args: []string{"-dir", dir, "extra"}, wantErr: "unexpected arguments"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.wantErr)
			}
		})
	}
}

func TestReplayRefusesACorruptJournal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "manifests.journal"), []byte("{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-dir", dir}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "manifests.journal:1") {
		t.Fatalf("run with a corrupt journal = %v, want an error naming manifests.journal:1", err)
	}
}
