// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"net/http"
	"time"

	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
	"github.com/chathub/chathub/webpubsub"
)

// closeReason is the reason query parameter, or the service's default.
func closeReason(r *http.Request) string {
	if v := r.URL.Query().Get("reason"); v != "" {
		return v
	}
	return protocol.ReasonClosedByServer
}

func closeAll(conns []*hub.Conn, excluded map[string]bool, reason string) {
	for _, c := range conns {
		if !excluded[c.ID()] {
			c.Close(protocol.CloseNormal, reason)
		}
	}
}

// closeOp closes the connections of h that target and key select, but those excluded,
// through every replica when there are several.
func (s *Server) closeOp(w http.ResponseWriter, r *http.Request, h *hub.Hub, target, key string) *apiError {
	reason := closeReason(r)
	if s.cluster != nil {
		op := &cluster.Op{Kind: cluster.KindClose, Hub: h.Name(), Target: target, Key: key, Reason: reason}
		if target != cluster.TargetConn {
			op.Excluded = r.URL.Query()["excluded"]
		}
		return s.replicate(w, op, http.StatusNoContent)
	}
	closeAll(selectConns(h, target, key), excludedSet(r), reason)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) closeConnection(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	if s.cluster != nil {
		return s.closeOp(w, r, h, cluster.TargetConn, id)
	}
	if c := h.Conn(id); c != nil {
		c.Close(protocol.CloseNormal, closeReason(r))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) closeAllConnections(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	return s.closeOp(w, r, h, cluster.TargetAll, "")
}

func (s *Server) closeGroupConnections(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	return s.closeOp(w, r, h, cluster.TargetGroup, g)
}

func (s *Server) closeUserConnections(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	return s.closeOp(w, r, h, cluster.TargetUser, user)
}

// existsAnywhere reports whether a replica holds the connection, user or group target and
// key name; here is the answer of this replica when it is the only one.
func (s *Server) existsAnywhere(h *hub.Hub, here bool, target, key string) (bool, *apiError) {
	if s.cluster == nil {
		return here, nil
	}
	found, aerr := s.foundAnywhere(&cluster.Op{Kind: cluster.KindExists, Hub: h.Name(), Target: target, Key: key})
	return found != nil, aerr
}

func (s *Server) connectionExists(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	ok, aerr := s.existsAnywhere(h, h.Conn(id) != nil, cluster.TargetConn, id)
	if aerr != nil {
		return aerr
	}
	if !ok {
		return connectionNotFound(id)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) groupExists(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	ok, aerr := s.existsAnywhere(h, h.HasGroup(g), cluster.TargetGroup, g)
	if aerr != nil {
		return aerr
	}
	if !ok {
		return &apiError{status: http.StatusNotFound, code: "Warning.Group.NotExisted", message: "group " + quote(g) + " has no connections", target: "Group"}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) userExists(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	ok, aerr := s.existsAnywhere(h, h.HasUser(user), cluster.TargetUser, user)
	if aerr != nil {
		return aerr
	}
	if !ok {
		return &apiError{status: http.StatusNotFound, code: "Warning.User.NotExisted", message: "user " + quote(user) + " has no connections", target: "User"}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// permission grants, revokes or checks (action) the permission of the request for its
// connection, here or on the replica holding it. It returns "" or replyNotGranted, or the
// error of the request: a connection no replica holds is connectionNotFound.
func (s *Server) permission(r *http.Request, h *hub.Hub, action string) (string, *apiError) {
	perm := r.PathValue("permission")
	if perm != hub.PermSendToGroup && perm != hub.PermJoinLeaveGroup {
		return "", badRequest("permission %s is not supported: use sendToGroup or joinLeaveGroup", quote(perm))
	}
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return "", aerr
	}
	target := r.URL.Query().Get("targetName")
	if target != "" {
		if err := webpubsub.ValidateGroupName(target); err != nil {
			return "", badRequest("targetName: %s", err.Error())
		}
	}
	if s.cluster == nil {
		if c := h.Conn(id); c != nil {
			return applyPermission(c, action, perm, target), nil
		}
		return "", connectionNotFound(id)
	}
	found, aerr := s.foundAnywhere(&cluster.Op{Kind: cluster.KindPermission, Hub: h.Name(), Target: cluster.TargetConn,
		Key: id, Perm: perm, Group: target, Action: action})
	if aerr != nil {
		return "", aerr
	}
	if found == nil {
		return "", connectionNotFound(id)
	}
	return found.Error, nil
}

func (s *Server) grantPermission(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	if _, aerr := s.permission(r, h, cluster.Grant); aerr != nil {
		return aerr
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) revokePermission(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	if _, aerr := s.permission(r, h, cluster.Revoke); aerr != nil && aerr.status != http.StatusNotFound {
		return aerr
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) checkPermission(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	res, aerr := s.permission(r, h, cluster.Check)
	if aerr != nil {
		return aerr
	}
	if res == replyNotGranted {
		return &apiError{status: http.StatusNotFound, code: "Warning.Permission.NotGranted", message: "the connection does not have the permission"}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) generateToken(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	q := r.URL.Query()
	if ct := q.Get("clientType"); ct != "" && ct != "Default" {
		return badRequest("clientType %s is not supported by the PubSub service: use Default", quote(ct))
	}
	minutes, aerr := intParam(q, "minutesToExpire", 60, 1, 60*24*365)
	if aerr != nil {
		return aerr
	}
	access, err := webpubsub.ClientAccessFor(s.cfg.Endpoint, s.accessKeys()[0], h.Name(), webpubsub.ClientTokenOptions{
		UserID: q.Get("userId"), Roles: q["role"], Groups: q["group"], TTL: time.Duration(minutes) * time.Minute,
	}, s.cfg.Now())
	if err != nil {
		return badRequest("%s", err.Error())
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": access.Token})
	return nil
}
