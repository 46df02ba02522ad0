// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package settings keeps the hub settings (event handlers per hub) of the PubSub
// service: a store safe for concurrent use, their validation, and loading them from a file.
package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/chathub/chathub/webpubsub"
)

// DefaultHub is the hub whose settings apply to hubs that have none of their own.
const DefaultHub = "_default"

// maxFileBytes bounds a settings file.
const maxFileBytes = 16 << 20

// Store holds the settings of each hub, keyed by the hub name case-insensitively. It is safe
// for concurrent use; it keeps its own copies, so callers may change what they pass in or get
// back.
//
// A hub's settings come either from a settings file (SyncFile) or from Set; the store
// remembers which, so a later version of the file removes only the hubs the file gave.
type Store struct {
	mu   sync.RWMutex
	hubs map[string]*webpubsub.HubSettings
	// fromFile holds the hubs whose current settings came from the file.
	fromFile map[string]bool
	// fileEntries is each hub's entry in the last applied file (canonical JSON).
	fileEntries map[string][]byte
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{hubs: map[string]*webpubsub.HubSettings{}, fromFile: map[string]bool{}, fileEntries: map[string][]byte{}}
}

// Get returns a copy of the settings of hub, and whether there are any.
func (s *Store) Get(hub string) (*webpubsub.HubSettings, bool) {
	s.mu.RLock()
	hs, ok := s.hubs[strings.ToLower(hub)]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return clone(hs), true
}

// Set validates hs and stores a copy as the settings of hub, replacing any previous ones.
// Name is set to hub when empty.
func (s *Store) Set(hub string, hs *webpubsub.HubSettings) error {
	if err := validateHub(hub); err != nil {
		return err
	}
	if err := Validate(hs); err != nil {
		return err
	}
	c := clone(hs)
	if c.Name == "" {
		c.Name = hub
	}
	key := strings.ToLower(hub)
	s.mu.Lock()
	s.hubs[key] = c
	delete(s.fromFile, key)
	s.mu.Unlock()
	return nil
}

// Delete removes the settings of hub and reports whether there were any.
func (s *Store) Delete(hub string) bool {
	key := strings.ToLower(hub)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.hubs[key]
	delete(s.hubs, key)
	delete(s.fromFile, key)
	return ok
}

// SetHubs returns copies of the settings that came from Set rather than from the settings
// file, sorted by hub name.
func (s *Store) SetHubs() []*webpubsub.HubSettings {
	s.mu.RLock()
	out := make([]*webpubsub.HubSettings, 0, len(s.hubs))
	for key, hs := range s.hubs {
		if !s.fromFile[key] {
			out = append(out, clone(hs))
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Hubs returns the names of the hubs with settings, sorted.
func (s *Store) Hubs() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.hubs))
	for _, hs := range s.hubs {
		names = append(names, hs.Name)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return names
}

// fileFormat is the shape of a settings file.
type fileFormat struct {
	Hubs map[string]*webpubsub.HubProperties `json:"hubs"`
}

// FileSync says what applying a version of the settings file changed, by hub name.
type FileSync struct {
	// Set lists the hubs set to the file's settings: new or changed entries.
	Set []string
	// Removed lists the hubs dropped from the file and removed from the store.
	Removed []string
	// Kept lists the hubs dropped from the file but kept, because their settings were set
	// through Set after the file gave them.
	Kept []string
}

// LoadFile reads a JSON settings file of the form
// {"hubs":{"chat":{"eventHandlers":[{"urlTemplate":"http://host/api/{event}","systemEvents":["connect"]}]}}}
// and applies it as SyncFile does; into a store without a previous file, that stores the
// settings of every hub in it. Nothing changes unless the whole file is valid.
func (s *Store) LoadFile(path string) error {
	_, err := s.SyncFile(path)
	return err
}

// SyncFile reads the settings file at path and applies it (see SyncFileData).
func (s *Store) SyncFile(path string) (FileSync, error) {
	data, err := readLimited(path)
	if err != nil {
		return FileSync{}, err
	}
	return s.SyncFileData(path, data)
}

// SyncFileData applies data, a version of the settings file at path, to the store. Each
// hub's settings are those of whichever changed last, its entry in the file or Set:
//   - a hub whose entry is new or differs from the previously applied file is set to it;
//   - a hub whose entry is unchanged keeps its current settings (a Set or Delete made
//     after the file was applied stays);
//   - a hub dropped from the file is removed when its settings still come from the file,
//     and kept when they were Set after that.
//
// Nothing changes unless the whole file is valid.
func (s *Store) SyncFileData(path string, data []byte) (FileSync, error) {
	parsed, err := parseFile(path, data)
	if err != nil {
		return FileSync{}, err
	}
	entries := make(map[string][]byte, len(parsed))
	for key, hs := range parsed {
		b, err := json.Marshal(hs)
		if err != nil {
			return FileSync{}, fmt.Errorf("hub settings file %s: hub %q: %w", path, hs.Name, err)
		}
		entries[key] = b
	}
	var res FileSync
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, hs := range parsed {
		if prev, ok := s.fileEntries[key]; ok && bytes.Equal(prev, entries[key]) {
			continue
		}
		s.hubs[key] = clone(hs)
		s.fromFile[key] = true
		res.Set = append(res.Set, hs.Name)
	}
	for key := range s.fileEntries {
		if _, ok := parsed[key]; ok {
			continue
		}
		hs, ok := s.hubs[key]
		switch {
		case !ok:
		case s.fromFile[key]:
			delete(s.hubs, key)
			delete(s.fromFile, key)
			res.Removed = append(res.Removed, hs.Name)
		default:
			res.Kept = append(res.Kept, hs.Name)
		}
	}
	s.fileEntries = entries
	sort.Strings(res.Set)
	sort.Strings(res.Removed)
	sort.Strings(res.Kept)
	return res, nil
}

// parseFile parses and validates a settings file, keyed by the lower-case hub name.
func parseFile(path string, data []byte) (map[string]*webpubsub.HubSettings, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileFormat
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("hub settings file %s: %w", path, err)
	}
	if f.Hubs == nil {
		return nil, fmt.Errorf("hub settings file %s: no \"hubs\" object", path)
	}
	parsed := make(map[string]*webpubsub.HubSettings, len(f.Hubs))
	for hub, props := range f.Hubs {
		if props == nil {
			return nil, fmt.Errorf("hub settings file %s: hub %q has null settings", path, hub)
		}
		hs := &webpubsub.HubSettings{Name: hub, Properties: *props}
		if err := validateHub(hub); err != nil {
			return nil, fmt.Errorf("hub settings file %s: %w", path, err)
		}
		if err := Validate(hs); err != nil {
			return nil, fmt.Errorf("hub settings file %s: hub %q: %w", path, hub, err)
		}
		key := strings.ToLower(hub)
		if other, ok := parsed[key]; ok {
			return nil, fmt.Errorf("hub settings file %s: hubs %q and %q differ only in case", path, other.Name, hub)
		}
		parsed[key] = hs
	}
	return parsed, nil
}

// ReadFile reads a settings file, at most 16 MiB, for SyncFileData. Errors name the file.
func ReadFile(path string) ([]byte, error) { return readLimited(path) }

func readLimited(path string) (_ []byte, err error) {
	f, err := os.Open(path) //nolint:gosec // G304: the path is the operator's own --settings-file flag
	if err != nil {
		return nil, fmt.Errorf("hub settings file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("hub settings file %s: %w", path, cerr))
		}
	}()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hub settings file %s: %w", path, err)
	}
	if n > maxFileBytes {
		return nil, fmt.Errorf("hub settings file %s is larger than %d bytes", path, maxFileBytes)
	}
	return buf.Bytes(), nil
}

// validateHub accepts a valid hub name or the fallback hub "_default".
func validateHub(hub string) error {
	if strings.EqualFold(hub, DefaultHub) {
		return nil
	}
	return webpubsub.ValidateHubName(hub)
}

// clone deep-copies hs.
func clone(hs *webpubsub.HubSettings) *webpubsub.HubSettings {
	c := *hs
	p := &c.Properties
	if hs.Properties.EventHandlers != nil {
		p.EventHandlers = make([]webpubsub.EventHandlerSettings, len(hs.Properties.EventHandlers))
		for i, h := range hs.Properties.EventHandlers {
			h.SystemEvents = append([]string(nil), h.SystemEvents...)
			if h.Auth != nil {
				a := *h.Auth
				if a.ManagedIdentity != nil {
					mi := *a.ManagedIdentity
					a.ManagedIdentity = &mi
				}
				h.Auth = &a
			}
			p.EventHandlers[i] = h
		}
	}
	if hs.Properties.EventListeners != nil {
		p.EventListeners = make([]json.RawMessage, len(hs.Properties.EventListeners))
		for i, l := range hs.Properties.EventListeners {
			p.EventListeners[i] = append(json.RawMessage(nil), l...)
		}
	}
	if k := hs.Properties.WebSocketKeepAliveIntervalInSeconds; k != nil {
		v := *k
		p.WebSocketKeepAliveIntervalInSeconds = &v
	}
	return &c
}
