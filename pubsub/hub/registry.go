// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package hub keeps the live connections of the PubSub service: per hub, sharded
// indexes of connections, groups and users; per connection, a bounded send queue, group
// memberships, permissions and, for reliable clients, the buffer of unacknowledged messages
// that makes recovery possible. It knows nothing of sockets: a Transport is told when frames
// are queued and when to close.
package hub

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxQueueFrames   = 1000
	DefaultMaxQueueBytes    = 4 << 20
	DefaultMaxUnackedFrames = 1000
	DefaultMaxUnackedBytes  = 16 << 20
	DefaultRecoveryWindow   = 30 * time.Second
)

// Config configures a Registry.
type Config struct {
	// MaxQueueFrames and MaxQueueBytes bound a connection's send queue; a connection that
	// falls further behind is closed as a slow client. 0 => defaults.
	MaxQueueFrames, MaxQueueBytes int
	// MaxUnackedFrames and MaxUnackedBytes bound a reliable connection's buffer of messages
	// the client has not acknowledged; 0 => 1,000 messages and 16 MiB.
	MaxUnackedFrames, MaxUnackedBytes int
	// RecoveryWindow is how long a dropped reliable connection waits for its client; 0 => 30 s.
	RecoveryWindow time.Duration
	// OnClose is called once per connection after its final close, with the reason.
	OnClose func(c *Conn, reason string)
}

func (c *Config) setDefaults() {
	if c.MaxQueueFrames <= 0 {
		c.MaxQueueFrames = DefaultMaxQueueFrames
	}
	if c.MaxQueueBytes <= 0 {
		c.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if c.MaxUnackedFrames <= 0 {
		c.MaxUnackedFrames = DefaultMaxUnackedFrames
	}
	if c.MaxUnackedBytes <= 0 {
		c.MaxUnackedBytes = DefaultMaxUnackedBytes
	}
	if c.RecoveryWindow <= 0 {
		c.RecoveryWindow = DefaultRecoveryWindow
	}
}

// Registry holds the hubs of the service. It is safe for concurrent use.
type Registry struct {
	cfg   Config
	seed  maphash.Seed
	mu    sync.RWMutex
	hubs  map[string]*Hub
	count atomic.Int64
}

// NewRegistry returns an empty registry.
func NewRegistry(cfg Config) *Registry {
	cfg.setDefaults()
	return &Registry{cfg: cfg, seed: maphash.MakeSeed(), hubs: map[string]*Hub{}}
}

// Hub returns the hub with this name (case-insensitive). A hub nobody is connected to is not
// kept: Hub then returns an empty hub that joins the registry only when a connection is
// registered in it, so that looking a hub up never creates state. A hub leaves the registry
// when its last connection is closed.
func (r *Registry) Hub(name string) *Hub {
	if h := r.Lookup(name); h != nil {
		return h
	}
	return newHub(r, name)
}

// Lookup returns the hub with this name (case-insensitive) if it has connections, else nil.
func (r *Registry) Lookup(name string) *Hub {
	key := strings.ToLower(name)
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.hubs[key]
}

// Hubs returns the number of hubs in the registry: those with connections.
func (r *Registry) Hubs() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.hubs)
}

// attach takes a reference on the live hub named as h for a connection being registered and
// returns it: h itself when it is in the registry or its name is free (then h joins), else
// the hub that holds the name now. A hub is only released while no reference is held.
func (r *Registry) attach(h *Hub) *Hub {
	key := strings.ToLower(h.name)
	r.mu.RLock()
	live := r.hubs[key]
	if live != nil {
		// Under the read lock: release, which takes the write lock, cannot run meanwhile.
		live.refs.Add(1)
	}
	r.mu.RUnlock()
	if live != nil {
		return live
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if live = r.hubs[key]; live == nil {
		live = h
		r.hubs[key] = h
	}
	live.refs.Add(1)
	return live
}

// detach drops a reference taken by attach and releases the hub once none is left.
func (r *Registry) detach(h *Hub) {
	if h.refs.Add(-1) > 0 {
		return
	}
	key := strings.ToLower(h.name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if h.refs.Load() == 0 && r.hubs[key] == h {
		delete(r.hubs, key)
	}
}

// Count returns the number of connections of all hubs, including reliable connections
// waiting for recovery.
func (r *Registry) Count() int { return int(r.count.Load()) }

// Conns returns every connection of every hub.
func (r *Registry) Conns() []*Conn {
	r.mu.RLock()
	hubs := make([]*Hub, 0, len(r.hubs))
	for _, h := range r.hubs {
		hubs = append(hubs, h)
	}
	r.mu.RUnlock()
	var all []*Conn
	for _, h := range hubs {
		all = append(all, h.Conns()...)
	}
	return all
}

// ErrDuplicateID reports a connection id already in use in the hub.
var ErrDuplicateID = errors.New("connection id already in use")

// ErrClosed reports an operation on a closed connection.
var ErrClosed = errors.New("connection is closed")

// MaxGroupsPerConnection bounds the groups one connection can be in, so that neither a client
// with a join role nor a REST caller can grow the service's memory without limit.
const MaxGroupsPerConnection = 1000

// ErrTooManyGroups reports a join beyond MaxGroupsPerConnection.
var ErrTooManyGroups = fmt.Errorf("the connection is already in %d groups, the limit", MaxGroupsPerConnection)
