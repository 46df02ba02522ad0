// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/chathub/chathub/pubsub/settings"
)

// reloader polls the access key files and the settings file of `chathub pubsub` and applies
// their changes to a running Server. The files are small, so each poll simply reads them and
// compares with the last content: that catches both in-place edits and Kubernetes' symlink
// swap of Secret volumes. A file that cannot be read or holds something invalid keeps what
// was last loaded from it and is logged once, until it is good again.
type reloader struct {
	srv      *Server
	store    *settings.Store
	log      *slog.Logger
	interval time.Duration

	keyFiles []string // primary first; empty when the keys do not come from files
	keys     []string // the key last loaded from each of keyFiles ("" for an empty secondary)
	keyRaw   [][]byte // the content last read from each of keyFiles

	settingsFile string
	settingsRaw  []byte

	failing map[string]bool // files whose problem has been logged
}

// newReloader returns a reloader for the files of cfg, which has just been used to build srv
// (keys are the keys it resolved) and store. It returns nil when no file is to be watched.
func newReloader(cfg *CommandConfig, keys []string, srv *Server, store *settings.Store, log *slog.Logger) *reloader {
	r := &reloader{
		srv: srv, store: store, log: log, interval: cfg.ReloadInterval,
		settingsFile: cfg.SettingsFile, settingsRaw: cfg.settingsRaw, failing: map[string]bool{},
	}
	if r.interval == 0 {
		r.interval = DefaultReloadInterval
	}
	if cfg.keyFilesUsed() {
		r.keyFiles = cfg.AccessKeyFiles
		r.keys = make([]string, len(r.keyFiles))
		copy(r.keys, keys)
		r.keyRaw = make([][]byte, len(r.keyFiles))
		copy(r.keyRaw, cfg.fileRaw)
	}
	if len(r.keyFiles) == 0 && r.settingsFile == "" {
		return nil
	}
	return r
}

// run polls until ctx ends.
func (r *reloader) run(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.reloadKeys()
		r.reloadSettings()
	}
}

// reloadKeys reads every key file and, when a key changed, gives the server the new keys.
func (r *reloader) reloadKeys() {
	changed := false
	for i, path := range r.keyFiles {
		b, err := os.ReadFile(path) //nolint:gosec // G304: the path is the operator's own --access-key-file flag
		if err != nil {
			r.fail(path, "Keeping the last good access key", "error", unwrapPathError(err))
			continue
		}
		if bytes.Equal(b, r.keyRaw[i]) {
			r.recover(path)
			continue
		}
		key := string(bytes.TrimSpace(b))
		if key == "" {
			r.fail(path, "Keeping the last good access key", "error", "the file is empty")
			continue
		}
		if err := ValidateAccessKey(key); err != nil {
			r.fail(path, "Keeping the last good access key", "error", err)
			continue
		}
		r.keyRaw[i] = b
		r.recover(path)
		if key != r.keys[i] {
			r.keys[i] = key
			changed = true
			r.log.Info("Reloaded an access key", "file", path, "key", keyRole(i))
		}
	}
	if !changed {
		return
	}
	if err := r.srv.SetAccessKeys(currentKeys(r.keys)); err != nil {
		// Unreachable: every key was validated above; keep the old keys if it happens.
		r.log.Warn("Keeping the previous access keys", "error", err)
	}
}

// currentKeys returns the non-empty keys, primary first, without duplicates.
func currentKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func keyRole(i int) string {
	if i == 0 {
		return "primary"
	}
	return "secondary"
}

// reloadSettings reads the settings file and, when it changed, applies it to the store.
func (r *reloader) reloadSettings() {
	if r.settingsFile == "" {
		return
	}
	path := r.settingsFile
	b, err := settings.ReadFile(path)
	if err != nil {
		r.fail(path, "Keeping the last good hub settings", "error", err)
		return
	}
	if bytes.Equal(b, r.settingsRaw) {
		r.recover(path)
		return
	}
	res, err := r.store.SyncFileData(path, b)
	if err != nil {
		r.fail(path, "Keeping the last good hub settings", "error", err)
		return
	}
	r.settingsRaw = b
	r.recover(path)
	r.log.Info("Reloaded the hub settings", "file", path, "set", len(res.Set), "removed", len(res.Removed), "kept", len(res.Kept))
	r.log.Debug("Reloaded the hub settings", "file", path, "setHubs", res.Set, "removedHubs", res.Removed, "keptHubs", res.Kept)
}

// fail logs a file's problem, once until the file is good again.
func (r *reloader) fail(path, msg string, args ...any) {
	if r.failing[path] {
		return
	}
	r.failing[path] = true
	r.log.Warn(msg, append([]any{"file", path}, args...)...)
}

// recover notes that a file is good again.
func (r *reloader) recover(path string) {
	if r.failing[path] {
		delete(r.failing, path)
		r.log.Info("The file is readable and valid again", "file", path)
	}
}

// unwrapPathError drops the path from a *PathError (the caller names it).
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
