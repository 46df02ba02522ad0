// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package hub

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/chathub/chathub/internal/mapshrink"
	"github.com/chathub/chathub/pubsub/protocol"
)

// shardCount spreads each index over independent locks so that connects, joins and
// broadcasts on different keys do not contend.
const shardCount = 32

type connShard struct {
	sync.RWMutex
	m    map[string]*Conn
	peak int // for mapshrink: a burst of connections does not keep its room
}

type setShard struct {
	sync.RWMutex
	m    map[string]map[*Conn]struct{}
	peak int // for mapshrink
}

// Hub is one hub: its connections, groups and users.
type Hub struct {
	name   string
	reg    *Registry
	conns  [shardCount]connShard
	groups [shardCount]setShard
	users  [shardCount]setShard
	refs   atomic.Int64 // connections registered, and registrations under way (Registry.attach)
}

func newHub(r *Registry, name string) *Hub {
	h := &Hub{name: name, reg: r}
	for i := range shardCount {
		h.conns[i].m = map[string]*Conn{}
		h.groups[i].m = map[string]map[*Conn]struct{}{}
		h.users[i].m = map[string]map[*Conn]struct{}{}
	}
	return h
}

// Name returns the hub name as first used.
func (h *Hub) Name() string { return h.name }

func (h *Hub) shard(key string) int {
	return int(maphash.String(h.reg.seed, key) % shardCount)
}

// ConnOptions describes a new connection.
type ConnOptions struct {
	ID, UserID, Subprotocol string
	Kind                    protocol.Kind
	Roles                   []string
	// State is the initial ce-connectionState.
	State string
	// ReconnectionToken authorises recovery of a reliable connection.
	ReconnectionToken string
	// Transport is the connection's socket.
	Transport Transport
	// Initial is the first frame the client receives (the connected message), or nil.
	Initial []byte
}

// Register adds a connection to the hub, which joins the registry if it was not in it (the
// connection's Hub is then the registry's hub of this name). Its initial frame is queued
// before the connection becomes visible to any broadcast; the caller notifies the transport
// once it is ready.
func (h *Hub) Register(o ConnOptions) (*Conn, error) {
	live := h.reg.attach(h)
	c, err := live.register(o)
	if err != nil {
		h.reg.detach(live)
	}
	return c, err
}

func (h *Hub) register(o ConnOptions) (*Conn, error) {
	c := &Conn{
		hub: h, id: o.ID, userID: o.UserID, subprotocol: o.Subprotocol, kind: o.Kind,
		roles: o.Roles, state: o.State, reconnToken: o.ReconnectionToken, transport: o.Transport,
	}
	if o.Initial != nil {
		c.queue = append(c.queue, Frame{data: o.Initial})
		c.queueBytes = len(o.Initial)
	}
	s := &h.conns[h.shard(o.ID)]
	s.Lock()
	if _, dup := s.m[o.ID]; dup {
		s.Unlock()
		return nil, ErrDuplicateID
	}
	s.m[o.ID] = c
	mapshrink.Grown(len(s.m), &s.peak)
	s.Unlock()
	if o.UserID != "" {
		addToSet(&h.users[h.shard(o.UserID)], o.UserID, c)
	}
	h.reg.count.Add(1)
	return c, nil
}

// Conn returns the connection with this id, or nil.
func (h *Hub) Conn(id string) *Conn {
	s := &h.conns[h.shard(id)]
	s.RLock()
	defer s.RUnlock()
	return s.m[id]
}

// Conns returns every connection of the hub.
func (h *Hub) Conns() []*Conn {
	n := 0
	for i := range shardCount {
		s := &h.conns[i]
		s.RLock()
		n += len(s.m)
		s.RUnlock()
	}
	all := make([]*Conn, 0, n+n/8) // one allocation, with room for a few connections more
	for i := range shardCount {
		s := &h.conns[i]
		s.RLock()
		for _, c := range s.m {
			all = append(all, c)
		}
		s.RUnlock()
	}
	return all
}

// GroupMembers returns the connections in a group.
func (h *Hub) GroupMembers(group string) []*Conn {
	return members(&h.groups[h.shard(group)], group)
}

// UserConns returns the connections of a user.
func (h *Hub) UserConns(userID string) []*Conn {
	return members(&h.users[h.shard(userID)], userID)
}

// HasGroup reports whether any connection is in the group.
func (h *Hub) HasGroup(group string) bool {
	s := &h.groups[h.shard(group)]
	s.RLock()
	defer s.RUnlock()
	return len(s.m[group]) > 0
}

// HasUser reports whether the user has any connection.
func (h *Hub) HasUser(userID string) bool {
	s := &h.users[h.shard(userID)]
	s.RLock()
	defer s.RUnlock()
	return len(s.m[userID]) > 0
}

// remove drops a closed connection from every index.
func (h *Hub) remove(c *Conn, groups []string) {
	s := &h.conns[h.shard(c.id)]
	s.Lock()
	removed := s.m[c.id] == c
	if removed {
		delete(s.m, c.id)
		s.m = mapshrink.Shrink(s.m, &s.peak)
		h.reg.count.Add(-1)
	}
	s.Unlock()
	if c.userID != "" {
		removeFromSet(&h.users[h.shard(c.userID)], c.userID, c)
	}
	for _, g := range groups {
		removeFromSet(&h.groups[h.shard(g)], g, c)
	}
	if removed {
		h.reg.detach(h)
	}
}

func members(s *setShard, key string) []*Conn {
	s.RLock()
	defer s.RUnlock()
	set := s.m[key]
	out := make([]*Conn, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}

func addToSet(s *setShard, key string, c *Conn) {
	s.Lock()
	set := s.m[key]
	if set == nil {
		set = map[*Conn]struct{}{}
		s.m[key] = set
		mapshrink.Grown(len(s.m), &s.peak)
	}
	set[c] = struct{}{}
	s.Unlock()
}

func removeFromSet(s *setShard, key string, c *Conn) {
	s.Lock()
	if set := s.m[key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.m, key)
			s.m = mapshrink.Shrink(s.m, &s.peak)
		}
	}
	s.Unlock()
}

// Deliver queues m on every connection for which skip returns false and returns the number
// of connections it was queued on. skip may be nil.
func Deliver(conns []*Conn, m *Message, skip func(*Conn) bool) int {
	n := 0
	for _, c := range conns {
		if skip != nil && skip(c) {
			continue
		}
		if c.Send(m) == nil {
			n++
		}
	}
	return n
}
