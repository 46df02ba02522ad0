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

func (s *Server) removeConnectionFromGroup(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	g, aerr := groupValue(r)
	if aerr != nil {
		return aerr
	}
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	if c := h.Conn(id); c != nil {
		c.Leave(g)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) removeConnectionFromAllGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	id, aerr := pathValue(r, "connectionId")
	if aerr != nil {
		return aerr
	}
	if c := h.Conn(id); c != nil {
		c.LeaveAll()
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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
	for _, c := range h.UserConns(user) {
		_ = c.Join(g)
	}
	w.WriteHeader(http.StatusOK)
	return nil
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
	for _, c := range h.UserConns(user) {
		c.Leave(g)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) removeUserFromAllGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	user, aerr := pathValue(r, "userId")
	if aerr != nil {
		return aerr
	}
	for _, c := range h.UserConns(user) {
		c.LeaveAll()
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// groupsBody is the body of :addToGroups and :removeFromGroups.
type groupsBody struct {
	Groups []string `json:"groups"`
	Filter string   `json:"filter"`
}

func (s *Server) addToGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	return s.changeGroups(w, r, h, func(c *hub.Conn, g string) { _ = c.Join(g) })
}

func (s *Server) removeFromGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError {
	return s.changeGroups(w, r, h, (*hub.Conn).Leave)
}

func (s *Server) changeGroups(w http.ResponseWriter, r *http.Request, h *hub.Hub, apply func(*hub.Conn, string)) *apiError {
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
	// Evaluate the filter before changing anything, so that '<g>' in groups sees the
	// memberships as they were when the request arrived.
	var selected []*hub.Conn
	for _, c := range h.Conns() {
		if f.Match(c) {
			selected = append(selected, c)
		}
	}
	for _, c := range selected {
		for _, g := range body.Groups {
			apply(c, g)
		}
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
	members := h.GroupMembers(g)
	slices.SortFunc(members, func(a, b *hub.Conn) int { return strings.Compare(a.ID(), b.ID()) })
	start, _ := slices.BinarySearchFunc(members, after, func(c *hub.Conn, id string) int {
		if c.ID() <= id {
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
	page := make([]groupMember, 0, end-start)
	for _, c := range members[start:end] {
		page = append(page, groupMember{ConnectionID: c.ID(), UserID: c.UserID()})
	}
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
