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
type Store struct {
	mu   sync.RWMutex
	hubs map[string]*webpubsub.HubSettings
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{hubs: map[string]*webpubsub.HubSettings{}}
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
	s.mu.Lock()
	s.hubs[strings.ToLower(hub)] = c
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
	return ok
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

// LoadFile reads a JSON settings file of the form
// {"hubs":{"chat":{"eventHandlers":[{"urlTemplate":"http://host/api/{event}","systemEvents":["connect"]}]}}}
// and stores the settings of every hub in it. Nothing is stored unless the whole file is valid.
func (s *Store) LoadFile(path string) error {
	data, err := readLimited(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileFormat
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("hub settings file %s: %w", path, err)
	}
	if f.Hubs == nil {
		return fmt.Errorf("hub settings file %s: no \"hubs\" object", path)
	}
	parsed := make(map[string]*webpubsub.HubSettings, len(f.Hubs))
	for hub, props := range f.Hubs {
		if props == nil {
			return fmt.Errorf("hub settings file %s: hub %q has null settings", path, hub)
		}
		hs := &webpubsub.HubSettings{Name: hub, Properties: *props}
		if err := validateHub(hub); err != nil {
			return fmt.Errorf("hub settings file %s: %w", path, err)
		}
		if err := Validate(hs); err != nil {
			return fmt.Errorf("hub settings file %s: hub %q: %w", path, hub, err)
		}
		parsed[hub] = hs
	}
	s.mu.Lock()
	for hub, hs := range parsed {
		s.hubs[strings.ToLower(hub)] = clone(hs)
	}
	s.mu.Unlock()
	return nil
}

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
