// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package hub

import (
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chathub/chathub/pubsub/protocol"
)

// Transport is the socket side of a connection.
type Transport interface {
	// Notify tells the transport that frames are waiting in the send queue (see Drain).
	Notify()
	// Close writes a close frame with this code and reason (after the queued frames when
	// possible) and closes the socket. It may be called more than once.
	Close(code int, reason string)
}

// ackHistory bounds the remembered ack ids of one connection.
const ackHistory = 1024

// Conn is one client connection. A reliable connection outlives its socket for the
// recovery window. All methods are safe for concurrent use.
type Conn struct {
	hub                     *Hub
	id, userID, subprotocol string
	kind                    protocol.Kind
	roles                   []string

	mu          sync.Mutex
	transport   Transport
	gen         uint64
	closed      bool
	groups      map[string]struct{}
	grants      map[string]struct{}
	state       string
	reconnToken string
	expiry      *time.Timer

	queue      []Frame
	queueBytes int
	spare      []Frame // an emptied batch kept for the next queue (see Recycle)

	seq          uint64
	unacked      []Frame
	unackedBytes int

	ackSeen  map[uint64]struct{}
	ackOrder []uint64
}

// ID returns the connection id.
func (c *Conn) ID() string { return c.id }

// ConnectionID returns the connection id (filter.Subject).
func (c *Conn) ConnectionID() string { return c.id }

// UserID returns the user id, "" when anonymous.
func (c *Conn) UserID() string { return c.userID }

// Kind returns the connection's wire format.
func (c *Conn) Kind() protocol.Kind { return c.kind }

// Subprotocol returns the negotiated subprotocol, "" for none.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Hub returns the connection's hub.
func (c *Conn) Hub() *Hub { return c.hub }

// State returns the ce-connectionState value.
func (c *Conn) State() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// SetState replaces the ce-connectionState value.
func (c *Conn) SetState(s string) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// Closed reports whether the connection has been closed for good.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// WhileOpen runs fn if the connection is not closed, holding the connection's lock so that
// Close waits for it: whatever fn queues (an upstream event) is queued before the
// connection's disconnected event, or not at all. fn must not call methods of c. It reports
// whether fn ran.
func (c *Conn) WhileOpen(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	fn()
	return true
}

// InGroup reports whether the connection is in the group (filter.Subject).
func (c *Conn) InGroup(group string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.groups[group]
	return ok
}

// Groups returns the connection's groups.
func (c *Conn) Groups() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.groups))
	for g := range c.groups {
		out = append(out, g)
	}
	return out
}

// Join adds the connection to a group. It returns ErrClosed for a closed connection and
// ErrTooManyGroups when the connection is already in MaxGroupsPerConnection groups.
func (c *Conn) Join(group string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if _, ok := c.groups[group]; ok {
		return nil
	}
	if len(c.groups) >= MaxGroupsPerConnection {
		return ErrTooManyGroups
	}
	if c.groups == nil {
		c.groups = map[string]struct{}{}
	}
	c.groups[group] = struct{}{}
	// Lock order is always connection, then index shard.
	addToSet(&c.hub.groups[c.hub.shard(group)], group, c)
	return nil
}

// Leave removes the connection from a group.
func (c *Conn) Leave(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.groups[group]; !ok {
		return
	}
	delete(c.groups, group)
	removeFromSet(&c.hub.groups[c.hub.shard(group)], group, c)
}

// LeaveAll removes the connection from every group.
func (c *Conn) LeaveAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for g := range c.groups {
		removeFromSet(&c.hub.groups[c.hub.shard(g)], g, c)
	}
	c.groups = nil
}

// Permissions a connection can hold (roles "webpubsub.<perm>[.<group>]" or REST grants).
const (
	PermSendToGroup    = "sendToGroup"
	PermJoinLeaveGroup = "joinLeaveGroup"
)

// Allowed reports whether the connection may use perm on group, through a token or connect
// role (webpubsub.<perm> or webpubsub.<perm>.<group>) or a REST grant.
func (c *Conn) Allowed(perm, group string) bool {
	all, one := "webpubsub."+perm, "webpubsub."+perm+"."+group
	if slices.Contains(c.roles, all) || slices.Contains(c.roles, one) {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, a := c.grants[perm]
	_, o := c.grants[perm+"."+group]
	return a || o
}

// Grant gives the connection perm on target ("" = every group).
func (c *Conn) Grant(perm, target string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.grants == nil {
		c.grants = map[string]struct{}{}
	}
	c.grants[grantKey(perm, target)] = struct{}{}
}

// Revoke takes a grant away; revoking "" (every group) also drops the per-group grants.
func (c *Conn) Revoke(perm, target string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.grants, grantKey(perm, target))
	if target == "" {
		for k := range c.grants {
			if strings.HasPrefix(k, perm+".") {
				delete(c.grants, k)
			}
		}
	}
}

func grantKey(perm, target string) string {
	if target == "" {
		return perm
	}
	return perm + "." + target
}

// SeenAckID records an ack id and reports whether it was already used on this connection.
func (c *Conn) SeenAckID(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.ackSeen[id]; dup {
		return true
	}
	if c.ackSeen == nil {
		c.ackSeen = map[uint64]struct{}{}
	}
	c.ackSeen[id] = struct{}{}
	c.ackOrder = append(c.ackOrder, id)
	if len(c.ackOrder) > ackHistory {
		delete(c.ackSeen, c.ackOrder[0])
		c.ackOrder = slices.Delete(c.ackOrder, 0, 1)
	}
	return false
}

// Send queues a data message. Reliable connections number it and keep it until the client
// acknowledges it. A connection that cannot keep up is closed.
func (c *Conn) Send(m *Message) error {
	return c.enqueue(Frame{msg: m}, true)
}

// SendFrame queues a frame already encoded for this connection (connected, ack, pong).
func (c *Conn) SendFrame(data []byte, binary bool) error {
	return c.enqueue(Frame{data: data, binary: binary}, false)
}

// SendPing queues a keep-alive ping; it is not counted against the queue limits.
func (c *Conn) SendPing() {
	c.mu.Lock()
	t := c.transport
	if c.closed || t == nil {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, Frame{ping: true})
	c.mu.Unlock()
	t.Notify()
}

func (c *Conn) enqueue(f Frame, data bool) error {
	cfg := &c.hub.reg.cfg
	size := f.size()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if data && c.kind == protocol.KindJSONReliable {
		if len(c.unacked) >= cfg.MaxUnackedFrames || c.unackedBytes+size > cfg.MaxUnackedBytes {
			c.mu.Unlock()
			c.Close(protocol.ClosePolicy, protocol.ReasonBufferFull)
			return ErrClosed
		}
		c.seq++
		f.seq = c.seq
		c.unacked = append(c.unacked, f)
		c.unackedBytes += size
	}
	t := c.transport
	if t == nil { // waiting for recovery: the message waits in the unacked buffer
		c.mu.Unlock()
		return nil
	}
	if len(c.queue) >= cfg.MaxQueueFrames || c.queueBytes+size > cfg.MaxQueueBytes {
		c.mu.Unlock()
		c.Close(protocol.ClosePolicy, protocol.ReasonSlowClient)
		return ErrClosed
	}
	c.queue = append(c.queue, f)
	c.queueBytes += size
	c.mu.Unlock()
	t.Notify()
	return nil
}

// Drain hands the queued frames to transport t and empties the queue. It returns nil when t
// is no longer the connection's socket.
func (c *Conn) Drain(t Transport) []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.transport != t || len(c.queue) == 0 {
		return nil
	}
	q := c.queue
	c.queue, c.queueBytes = c.spare, 0
	c.spare = nil
	return q
}

// maxRecycledFrames bounds the batch a connection keeps for reuse, so that a burst does not
// leave a large buffer behind on an idle connection.
const maxRecycledFrames = 16

// Recycle gives back a batch returned by Drain once its frames are written, so that the next
// queue reuses its memory instead of allocating. The caller must not use the batch afterwards.
func (c *Conn) Recycle(batch []Frame) {
	if cap(batch) > maxRecycledFrames {
		return
	}
	clear(batch) // drop the references to the written messages
	c.mu.Lock()
	switch {
	case c.queue == nil && c.transport != nil:
		c.queue = batch[:0]
	case c.spare == nil:
		c.spare = batch[:0]
	}
	c.mu.Unlock()
}

// AckSequence drops the buffered messages up to and including seq (sequenceAck).
func (c *Conn) AckSequence(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(c.unacked) && c.unacked[n].seq <= seq {
		c.unackedBytes -= c.unacked[n].size()
		n++
	}
	if n == len(c.unacked) {
		c.unacked = nil
	} else if n > 0 {
		c.unacked = slices.Clone(c.unacked[n:])
	}
}

// Close closes the connection for good: it leaves every index, its socket gets a close
// frame with code and reason, and Config.OnClose runs. Later calls do nothing.
func (c *Conn) Close(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	t := c.transport
	groups := make([]string, 0, len(c.groups))
	for g := range c.groups {
		groups = append(groups, g)
	}
	c.groups = nil
	c.unacked, c.unackedBytes = nil, 0
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.mu.Unlock()
	c.hub.remove(c, groups)
	if t != nil {
		t.Close(code, reason)
	}
	if cb := c.hub.reg.cfg.OnClose; cb != nil {
		cb(c, reason)
	}
}

// SocketGone tells the connection that socket t is gone. A reliable connection whose client
// may come back (recoverable) waits for recovery; any other connection closes with reason.
func (c *Conn) SocketGone(t Transport, recoverable bool, reason string) {
	c.mu.Lock()
	if c.closed || c.transport != t {
		c.mu.Unlock()
		return
	}
	if recoverable && c.kind == protocol.KindJSONReliable {
		c.transport = nil
		c.queue, c.queueBytes = nil, 0
		c.gen++
		gen := c.gen
		c.expiry = time.AfterFunc(c.hub.reg.cfg.RecoveryWindow, func() { c.expire(gen) })
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.Close(protocol.CloseNormal, reason)
}

func (c *Conn) expire(gen uint64) {
	c.mu.Lock()
	waiting := !c.closed && c.transport == nil && c.gen == gen
	c.mu.Unlock()
	if waiting {
		c.Close(protocol.ClosePolicy, protocol.ReasonRecoveryExpired)
	}
}

// ErrRecovery reports a recovery attempt that cannot succeed.
var ErrRecovery = errors.New("connection cannot be recovered")

// Resume attaches a new socket to a reliable connection whose client presents its
// reconnection token. initial (the connected message) is sent first, then every message the
// client has not acknowledged. A socket still attached is closed.
func (c *Conn) Resume(t Transport, token string, initial []byte) error {
	c.mu.Lock()
	if c.closed || c.kind != protocol.KindJSONReliable || c.reconnToken == "" ||
		subtle.ConstantTimeCompare([]byte(token), []byte(c.reconnToken)) != 1 {
		c.mu.Unlock()
		return ErrRecovery
	}
	old := c.transport
	c.transport = t
	c.gen++
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
	c.queue = make([]Frame, 0, len(c.unacked)+1)
	c.queue = append(c.queue, Frame{data: initial})
	c.queue = append(c.queue, c.unacked...)
	c.queueBytes = len(initial) + c.unackedBytes
	c.mu.Unlock()
	if old != nil {
		old.Close(protocol.CloseNormal, "replaced by a recovered socket")
	}
	t.Notify()
	return nil
}

// Pending reports whether frames wait in the queue for transport t.
func (c *Conn) Pending(t Transport) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport == t && len(c.queue) > 0
}
