// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/filter"
	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// Replies' Error values of the requests between replicas.
const (
	replyTooManyGroups = "tooManyGroups"
	replyNotGranted    = "notGranted"
)

// clusterHandler applies the operations and answers the requests of the replicas, this one
// included (cluster.Handler).
type clusterHandler struct{ s *Server }

// Apply implements cluster.Handler: it carries out an operation on this replica's connections.
func (ch clusterHandler) Apply(op *cluster.Op) {
	s := ch.s
	switch op.Kind {
	case cluster.KindSettings:
		s.applySettings(op)
		return
	case cluster.KindSync:
		s.applySync(op)
		return
	}
	h := s.reg.Lookup(op.Hub)
	if h == nil {
		return // no connection of the hub here
	}
	f, err := parseOpFilter(op.Filter)
	if err != nil {
		s.log.Warn("Ignored an operation with an invalid filter", "hub", op.Hub, "kind", op.Kind, "error", err)
		return
	}
	switch op.Kind {
	case cluster.KindSend:
		conns := selectConns(h, op.Target, op.Key)
		if len(conns) == 0 {
			return // nothing to encode for
		}
		excluded := setOf(op.Excluded)
		skip := func(c *hub.Conn) bool { return excluded[c.ID()] || !f.Match(c) }
		hub.Deliver(conns, hub.NewMessage(op.From, op.Group, op.FromUser, op.ContentType, op.Data), skip)
	case cluster.KindJoin, cluster.KindLeave, cluster.KindLeaveAll:
		// Selected before any change, so that a filter on groups sees the memberships as
		// they were (changeGroups).
		var selected []*hub.Conn
		for _, c := range selectConns(h, op.Target, op.Key) {
			if f.Match(c) {
				selected = append(selected, c)
			}
		}
		for _, c := range selected {
			changeGroups(c, op.Kind, op.Groups)
		}
	case cluster.KindClose:
		closeAll(selectConns(h, op.Target, op.Key), setOf(op.Excluded), op.Reason)
	default:
		s.log.Debug("Ignored an operation of an unknown kind", "kind", op.Kind)
	}
}

// Answer implements cluster.Handler.
func (ch clusterHandler) Answer(op *cluster.Op) cluster.Reply {
	if op.Kind == cluster.KindSettings {
		ch.s.applySettings(op)
		return cluster.Reply{Found: true}
	}
	h := ch.s.reg.Lookup(op.Hub)
	if h == nil {
		return cluster.Reply{}
	}
	switch op.Kind {
	case cluster.KindExists:
		switch op.Target {
		case cluster.TargetConn:
			return cluster.Reply{Found: h.Conn(op.Key) != nil}
		case cluster.TargetUser:
			return cluster.Reply{Found: h.HasUser(op.Key)}
		case cluster.TargetGroup:
			return cluster.Reply{Found: h.HasGroup(op.Key)}
		}
	case cluster.KindMembers:
		members := h.GroupMembers(op.Key)
		r := cluster.Reply{Found: len(members) > 0, Members: make([]cluster.Member, 0, len(members))}
		for _, c := range members {
			r.Members = append(r.Members, cluster.Member{ConnectionID: c.ID(), UserID: c.UserID()})
		}
		return r
	case cluster.KindJoin:
		c := h.Conn(op.Key)
		if c == nil {
			return cluster.Reply{}
		}
		for _, g := range op.Groups {
			if err := c.Join(g); errors.Is(err, hub.ErrTooManyGroups) {
				return cluster.Reply{Found: true, Error: replyTooManyGroups}
			} else if err != nil {
				return cluster.Reply{}
			}
		}
		return cluster.Reply{Found: true}
	case cluster.KindPermission:
		c := h.Conn(op.Key)
		if c == nil {
			return cluster.Reply{}
		}
		return cluster.Reply{Found: true, Error: applyPermission(c, op.Action, op.Perm, op.Group)}
	}
	return cluster.Reply{}
}

// Joined implements cluster.Handler: a replica that joins gets the hub settings set through
// the ARM-shaped API, which it has missed.
func (ch clusterHandler) Joined(string) {
	s := ch.s
	b, err := json.Marshal(s.cfg.Settings.SetHubs())
	if err == nil {
		err = s.cluster.Publish(&cluster.Op{Kind: cluster.KindSync, Data: b}, false)
	}
	if err != nil {
		s.log.Warn("Could not send the hub settings to a new replica", "error", err)
	}
}

// applySync takes the hub settings of another replica (KindSync) for the hubs this one has
// none for, and marks the replica's settings as in step.
func (s *Server) applySync(op *cluster.Op) {
	var hubs []*webpubsub.HubSettings
	if err := json.Unmarshal(op.Data, &hubs); err != nil {
		s.log.Warn("Ignored the hub settings of another replica", "replica", op.Replica, "error", err)
		return
	}
	for _, hs := range hubs {
		if _, ok := s.cfg.Settings.Get(hs.Name); ok {
			continue
		}
		if err := s.cfg.Settings.Set(hs.Name, hs); err != nil {
			s.log.Warn("Ignored hub settings of another replica", "hub", hs.Name, "error", err)
		}
	}
	s.synced.Store(true)
}

// applySettings applies hub settings a replica took through the ARM-shaped API.
func (s *Server) applySettings(op *cluster.Op) {
	if len(op.Data) == 0 {
		s.cfg.Settings.Delete(op.Hub)
		return
	}
	var hs webpubsub.HubSettings
	if err := json.Unmarshal(op.Data, &hs); err != nil {
		s.log.Warn("Ignored hub settings of another replica", "hub", op.Hub, "error", err)
		return
	}
	if err := s.cfg.Settings.Set(op.Hub, &hs); err != nil {
		s.log.Warn("Ignored hub settings of another replica", "hub", op.Hub, "error", err)
	}
}

// settingsChanged passes a change made through the ARM-shaped API on to the other replicas
// and waits until they have applied it, so that the caller's next step (a client connecting
// through any replica) finds the new event handler everywhere.
func (s *Server) settingsChanged(hubName string, hs *webpubsub.HubSettings) {
	op := &cluster.Op{Kind: cluster.KindSettings, Hub: hubName}
	if hs != nil {
		b, err := json.Marshal(hs)
		if err != nil {
			s.log.Error("Could not encode hub settings for the other replicas", "hub", hubName, "error", err)
			return
		}
		op.Data = b
	}
	if _, err := s.cluster.Gather(op, nil); err != nil {
		s.log.Error("Could not pass hub settings on to every other replica", "hub", hubName, "error", err)
	}
}

// selectConns returns the connections of h that target and key name.
func selectConns(h *hub.Hub, target, key string) []*hub.Conn {
	switch target {
	case cluster.TargetAll:
		return h.Conns()
	case cluster.TargetUser:
		return h.UserConns(key)
	case cluster.TargetGroup:
		return h.GroupMembers(key)
	case cluster.TargetConn:
		if c := h.Conn(key); c != nil {
			return []*hub.Conn{c}
		}
	}
	return nil
}

// changeGroups joins c to groups, leaves them or leaves every group, as kind says.
func changeGroups(c *hub.Conn, kind string, groups []string) {
	switch kind {
	case cluster.KindJoin:
		for _, g := range groups {
			_ = c.Join(g)
		}
	case cluster.KindLeave:
		for _, g := range groups {
			c.Leave(g)
		}
	case cluster.KindLeaveAll:
		c.LeaveAll()
	}
}

// applyPermission grants, revokes or checks perm on target for c and returns "" or
// replyNotGranted (a check of a permission c does not have).
func applyPermission(c *hub.Conn, action, perm, target string) string {
	switch action {
	case cluster.Grant:
		c.Grant(perm, target)
	case cluster.Revoke:
		c.Revoke(perm, target)
	case cluster.Check:
		if !c.Allowed(perm, target) {
			return replyNotGranted
		}
	}
	return ""
}

func parseOpFilter(src string) (*filter.Expr, error) {
	if src == "" {
		return nil, nil
	}
	return filter.Parse(src)
}

func setOf(ids []string) map[string]bool {
	if len(ids) == 0 {
		return nil
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// replicate publishes op for every replica, this one included, to apply, waits until NATS
// has it and answers status. Every replica applies the operations of all in the one order
// NATS gives them, so an operation that returned comes before any made afterwards.
func (s *Server) replicate(w http.ResponseWriter, op *cluster.Op, status int) *apiError {
	if err := s.cluster.Publish(op, true); err != nil {
		return replicasUnavailable(err)
	}
	w.WriteHeader(status)
	return nil
}

// gather asks every replica, this one included (see cluster.Gather). Without NATS it
// returns nothing.
func (s *Server) gather(op *cluster.Op, done func(cluster.Reply) bool) ([]cluster.Reply, *apiError) {
	if s.cluster == nil {
		return nil, nil
	}
	replies, err := s.cluster.Gather(op, done)
	if err != nil {
		return nil, replicasUnavailable(err)
	}
	return replies, nil
}

// foundAnywhere asks every replica about a connection, user or group.
func (s *Server) foundAnywhere(op *cluster.Op) (*cluster.Reply, *apiError) {
	replies, aerr := s.gather(op, func(r cluster.Reply) bool { return r.Found })
	if aerr != nil {
		return nil, aerr
	}
	return foundIn(replies), nil
}

func foundIn(replies []cluster.Reply) *cluster.Reply {
	for i := range replies {
		if replies[i].Found {
			return &replies[i]
		}
	}
	return nil
}

// replicasUnavailable is the REST error of an operation that could not reach every replica.
func replicasUnavailable(err error) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: "Error.ServiceUnavailable",
		message: "the operation could not reach every replica of the service: " + err.Error()}
}

// connectionID returns a new connection id; a clustered replica starts it with its id, so
// that a proxy can send a recovering client back to the replica holding its connection.
func (s *Server) connectionID() string {
	if s.cluster != nil {
		return s.cluster.ID() + newID(connectionIDBytes)
	}
	return newID(connectionIDBytes)
}

// groupSend publishes a client's group message for every replica to deliver; with noEcho
// the sender does not get it.
func (s *Server) groupSend(c *hub.Conn, group, contentType string, data []byte, noEcho bool) error {
	op := &cluster.Op{
		Kind: cluster.KindSend, Hub: c.Hub().Name(), Target: cluster.TargetGroup, Key: group,
		From: protocol.FromGroup, Group: group, FromUser: c.UserID(), ContentType: contentType, Data: data,
	}
	if noEcho {
		op.Excluded = []string{c.ID()}
	}
	return s.cluster.Publish(op, false)
}
