// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"net/http"
	"time"

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

func (s *Server) closeConnection(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	if c := h.Conn(id); c != nil {
		c.Close(protocol.CloseNormal, closeReason(r))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) closeAllConnections(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	closeAll(h.Conns(), excludedSet(r), closeReason(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) closeGroupConnections(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	closeAll(h.GroupMembers(g), excludedSet(r), closeReason(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) closeUserConnections(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	closeAll(h.UserConns(user), excludedSet(r), closeReason(r))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) connectionExists(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	if h.Conn(id) == nil {
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
	if !h.HasGroup(g) {
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
	if !h.HasUser(user) {
		return &apiError{status: http.StatusNotFound, code: "Warning.User.NotExisted", message: "user " + quote(user) + " has no connections", target: "User"}
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// permissionTarget reads {permission}, {connectionId} and targetName.
func permissionTarget(r *http.Request, h *hub.Hub) (perm string, c *hub.Conn, target string, aerr *apiError) {
	perm = r.PathValue("permission")
	if perm != hub.PermSendToGroup && perm != hub.PermJoinLeaveGroup {
		return "", nil, "", badRequest("permission %s is not supported: use sendToGroup or joinLeaveGroup", quote(perm))
	}
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return "", nil, "", aerr
	}
	target = r.URL.Query().Get("targetName")
	if target != "" {
		if err := webpubsub.ValidateGroupName(target); err != nil {
			return "", nil, "", badRequest("targetName: %s", err.Error())
		}
	}
	if c = h.Conn(id); c == nil {
		return "", nil, "", connectionNotFound(id)
	}
	return perm, c, target, nil
}

func (s *Server) grantPermission(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	perm, c, target, aerr := permissionTarget(r, h)
	if aerr != nil {
		return aerr
	}
	c.Grant(perm, target)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) revokePermission(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	perm, c, target, aerr := permissionTarget(r, h)
	if aerr != nil {
		if aerr.status == http.StatusNotFound {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return aerr
	}
	c.Revoke(perm, target)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) checkPermission(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	perm, c, target, aerr := permissionTarget(r, h)
	if aerr != nil {
		return aerr
	}
	if !c.Allowed(perm, target) {
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
