// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/webpubsub"
)

// Page sizes of ListConnectionsInGroup.
const (
	maxPageSize     = 200
	maxGroupsBody   = 1 << 20
	maxGroupsPerReq = 100
)

func (s *Server) addConnectionToGroup(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	if s.cluster != nil {
		return s.addConnectionToGroupAnywhere(w, h, id, g)
	}
	c := h.Conn(id)
	if c == nil {
		return connectionNotFound(id)
	}
	if err := c.Join(g); errors.Is(err, hub.ErrTooManyGroups) {
		return badRequest("%v", err)
	} else if err != nil {
		return connectionNotFound(id)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// addConnectionToGroupAnywhere asks the replica holding connection id, if any, to add it to g.
func (s *Server) addConnectionToGroupAnywhere(w http.ResponseWriter, h *hub.Hub, id, g string) *apiError {
	found, aerr := s.foundAnywhere(&cluster.Op{Kind: cluster.KindJoin, Hub: h.Name(), Target: cluster.TargetConn, Key: id, Groups: []string{g}})
	switch {
	case aerr != nil:
		return aerr
	case found == nil:
		return connectionNotFound(id)
	case found.Error == replyTooManyGroups:
		return badRequest("%v", hub.ErrTooManyGroups)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// groupOp applies a membership change to the connections of h that target and key select,
// through every replica when there are several.
func (s *Server) groupOp(w http.ResponseWriter, h *hub.Hub, kind, target, key string, groups []string, status int) *apiError {
	if s.cluster != nil {
		return s.replicate(w, &cluster.Op{Kind: kind, Hub: h.Name(), Target: target, Key: key, Groups: groups}, status)
	}
	for _, c := range selectConns(h, target, key) {
		changeGroups(c, kind, groups)
	}
	w.WriteHeader(status)
	return nil
}

func (s *Server) removeConnectionFromGroup(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	return s.groupOp(w, h, cluster.KindLeave, cluster.TargetConn, id, []string{g}, http.StatusNoContent)
}

func (s *Server) removeConnectionFromAllGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	return s.groupOp(w, h, cluster.KindLeaveAll, cluster.TargetConn, id, nil, http.StatusNoContent)
}

func (s *Server) addUserToGroup(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	return s.groupOp(w, h, cluster.KindJoin, cluster.TargetUser, user, []string{g}, http.StatusOK)
}

func (s *Server) removeUserFromGroup(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	return s.groupOp(w, h, cluster.KindLeave, cluster.TargetUser, user, []string{g}, http.StatusNoContent)
}

func (s *Server) removeUserFromAllGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	return s.groupOp(w, h, cluster.KindLeaveAll, cluster.TargetUser, user, nil, http.StatusNoContent)
}

// groupsBody is the body of :addToGroups and :removeFromGroups.
type groupsBody struct {
	Groups []string `json:"groups"`
	Filter string   `json:"filter"`
}

func (s *Server) addToGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	return s.changeGroups(w, r, h, cluster.KindJoin)
}

func (s *Server) removeFromGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	return s.changeGroups(w, r, h, cluster.KindLeave)
}

func (s *Server) changeGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub, kind string) *apiError {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxGroupsBody))
	if err != nil {
		return badRequest("the body is larger than 1 MiB or unreadable")
	}
	var body groupsBody
	if err := json.Unmarshal(raw, &body); err != nil {
		return badRequest(`the body must be JSON {"groups":[...],"filter":"..."}`)
	}
	if len(body.Groups) == 0 {
		return badRequest("groups must name at least one group")
	}
	if len(body.Groups) > maxGroupsPerReq {
		return badRequest("groups names %d groups, the limit is %d", len(body.Groups), maxGroupsPerReq)
	}
	for _, g := range body.Groups {
		if err := webpubsub.ValidateGroupName(g); err != nil {
			return badRequest("%s", err.Error())
		}
	}
	f, aerr := parseFilter(body.Filter)
	if aerr != nil {
		return aerr
	}
	if s.cluster != nil {
		op := &cluster.Op{Kind: kind, Hub: h.Name(), Target: cluster.TargetAll, Groups: body.Groups, Filter: body.Filter}
		return s.replicate(w, op, http.StatusOK)
	}
	// Evaluate the filter before changing anything, so that '<g>' in groups sees the
	// memberships as they were when the request arrived.
	var selected []*hub.Conn
	for _, c := range h.Conns() {
		if f.Match(c) {
			selected = append(selected, c)
		}
	}
	for _, c := range selected {
		changeGroups(c, kind, body.Groups)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// groupMember is one entry of ListConnectionsInGroup.
type groupMember struct {
	ConnectionID string `json:"connectionId"`
	UserID       string `json:"userId,omitempty"`
}

func (s *Server) listConnectionsInGroup(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	q := r.URL.Query()
	pageSize, aerr := intParam(q, "maxpagesize", maxPageSize, 1, maxPageSize)
	if aerr != nil {
		return aerr
	}
	top, aerr := intParam(q, "top", -1, 1, 1<<31-1)
	if aerr != nil {
		return aerr
	}
	after := ""
	if tok := q.Get("continuationToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return badRequest("continuationToken is invalid")
		}
		after = string(b)
	}
	members, aerr := s.groupMembers(h, g)
	if aerr != nil {
		return aerr
	}
	slices.SortFunc(members, func(a, b groupMember) int { return strings.Compare(a.ConnectionID, b.ConnectionID) })
	start, _ := slices.BinarySearchFunc(members, after, func(c groupMember, id string) int {
		if c.ConnectionID <= id {
			return -1
		}
		return 1
	})
	if after == "" {
		start = 0
	}
	n := pageSize
	if top > 0 && top < n {
		n = top
	}
	end := min(start+n, len(members))
	page := members[start:end]
	resp := struct {
		Value    []groupMember `json:"value"`
		NextLink string        `json:"nextLink,omitempty"`
	}{Value: page}
	remaining := top - len(page)
	if end < len(members) && (top < 0 || remaining > 0) && len(page) > 0 {
		next := url.Values{}
		if v := q.Get("api-version"); v != "" {
			next.Set("api-version", v)
		}
		next.Set("maxpagesize", strconv.Itoa(pageSize))
		if top > 0 {
			next.Set("top", strconv.Itoa(remaining))
		}
		next.Set("continuationToken", base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].ConnectionID)))
		u := url.URL{Scheme: s.cfg.Endpoint.Scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: next.Encode()}
		resp.NextLink = u.String()
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// groupMembers returns the connections in group g on every replica.
func (s *Server) groupMembers(h *hub.Hub, g string) ([]groupMember, *apiError) {
	if s.cluster == nil {
		local := h.GroupMembers(g)
		members := make([]groupMember, 0, len(local))
		for _, c := range local {
			members = append(members, groupMember{ConnectionID: c.ID(), UserID: c.UserID()})
		}
		return members, nil
	}
	var members []groupMember
	replies, aerr := s.gather(&cluster.Op{Kind: cluster.KindMembers, Hub: h.Name(), Target: cluster.TargetGroup, Key: g}, nil)
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range replies {
		for _, m := range r.Members {
			members = append(members, groupMember{ConnectionID: m.ConnectionID, UserID: m.UserID})
		}
	}
	return members, nil
}

// intParam reads an optional integer query parameter within [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int) (int, *apiError) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}
