// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command ociregistry serves a local OCI registry (go-containerregistry's
// pkg/registry) over plain HTTP on a loopback address, for the local
// cluster's containerd to pull the images `make image-push` put there
// (`make registry-up`, docs/e2e.md).
//
// Blobs are files under -dir/blobs; manifest and tag writes are appended to
// -dir/manifests.journal and replayed at start, so a restarted registry
// still serves what was pushed. It has no authentication: it refuses to
// listen on anything but a loopback address.
//
// Usage:
//
//	ociregistry -listen 127.0.0.1:5001 -dir .cache/registry
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// maxManifestBytes bounds a manifest write (the registry keeps manifests in
// memory and in the journal).
const maxManifestBytes = 4 << 20

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ociregistry:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready, when not nil, receives the listening
// address once the registry answers.
func run(ctx context.Context, args []string, logw io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("ociregistry", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:5001", "loopback host:port to serve on")
	dir := fs.String("dir", "", "state directory: blobs/ and manifests.journal (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	if err := checkLoopback(*listen); err != nil {
		return err
	}
	logger := log.New(logw, "", log.LstdFlags)
	h, err := newHandler(*dir, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := h.close(); err != nil {
			logger.Printf("closing the journal: %v", err)
		}
	}()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Printf("serving http://%s (state in %s)", ln.Addr(), *dir)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// In-flight requests get a grace period; a connection a client dialed
	// but never used counts as busy for net/http, so then it is closed.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		return srv.Close()
	}
	return err
}

// checkLoopback refuses a listen address that is not on a loopback
// interface: the registry lets anyone who reaches it push.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: the registry has no authentication and serves loopback addresses only (e.g. 127.0.0.1:5001)", addr)
	}
	return nil
}

// record is one journaled manifest write or deletion.
type record struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	ContentType string `json:"contentType,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// handler is the registry plus the manifest journal.
type handler struct {
	inner   http.Handler
	logger  *log.Logger
	mu      sync.Mutex
	journal *os.File
}

// newHandler opens the state in dir and replays its journal.
func newHandler(dir string, logger *log.Logger) (*handler, error) {
	blobs := filepath.Join(dir, "blobs")
	if err := os.MkdirAll(blobs, 0o750); err != nil {
		return nil, err
	}
	h := &handler{
		inner:  registry.New(registry.WithBlobHandler(registry.NewDiskBlobHandler(blobs)), registry.Logger(logger)),
		logger: logger,
	}
	path := filepath.Join(dir, "manifests.journal")
	n, err := h.replay(path)
	if err != nil {
		return nil, err
	}
	if h.journal, err = os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil { //nolint:gosec // G304: the journal in the state directory given by -dir
		return nil, err
	}
	if n > 0 {
		logger.Printf("replayed %d manifest writes from %s", n, path)
	}
	return h, nil
}

func (h *handler) close() error { return h.journal.Close() }

// replay applies the journal's records in order; a record the registry
// refuses now (e.g. its blobs were deleted) is logged and skipped.
func (h *handler) replay(path string) (int, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the journal in the state directory given by -dir
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }() // read only
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 2*maxManifestBytes)
	n := 0
	for line := 1; sc.Scan(); line++ {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return n, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		req, err := http.NewRequest(r.Method, r.Path, bytes.NewReader(r.Body))
		if err != nil {
			return n, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		req.Header.Set("Content-Type", r.ContentType)
		w := &bufferedWriter{header: http.Header{}}
		h.inner.ServeHTTP(w, req)
		if w.code/100 != 2 {
			h.logger.Printf("%s:%d: %s %s refused on replay (%d)", path, line, r.Method, r.Path, w.code)
			continue
		}
		n++
	}
	return n, sc.Err()
}

// ServeHTTP serves the registry and journals the manifest writes and
// deletions it accepted.
func (h *handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if (req.Method != http.MethodPut && req.Method != http.MethodDelete) || !strings.Contains(req.URL.Path, "/manifests/") {
		h.inner.ServeHTTP(w, req)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxManifestBytes))
	if err != nil {
		http.Error(w, "manifest too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	bw := &bufferedWriter{header: w.Header()}
	h.inner.ServeHTTP(bw, req)
	if bw.code/100 == 2 {
		h.append(record{Method: req.Method, Path: req.URL.Path, ContentType: req.Header.Get("Content-Type"), Body: body})
	}
	if bw.code == 0 {
		bw.code = http.StatusOK
	}
	w.WriteHeader(bw.code)
	if _, err := w.Write(bw.body.Bytes()); err != nil {
		h.logger.Printf("answering %s %s: %v", req.Method, req.URL.Path, err)
	}
}

// append writes r to the journal; a failure is logged (the write is then
// lost on restart, not now).
func (h *handler) append(r record) {
	b, err := json.Marshal(r)
	if err == nil {
		h.mu.Lock()
		_, err = h.journal.Write(append(b, '\n'))
		h.mu.Unlock()
	}
	if err != nil {
		h.logger.Printf("journaling %s %s: %v (lost on restart)", r.Method, r.Path, err)
	}
}

// bufferedWriter holds a response until the journal has the write it
// answers: a client that saw a manifest accepted finds it after a restart.
type bufferedWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
