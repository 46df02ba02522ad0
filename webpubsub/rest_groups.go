// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// AddConnectionToGroup adds a connection to group.
func (c *Client) AddConnectionToGroup(ctx context.Context, group, connectionID string) error {
	if err := validateGroupAndConnection("AddConnectionToGroup", group, connectionID); err != nil {
		return err
	}
	_, _, err := c.do(ctx, apiRequest{method: http.MethodPut, segments: c.hubSegments("groups", group, "connections", connectionID), ok: []int{http.StatusOK}})
	return err
}

// RemoveConnectionFromGroup removes a connection from group.
func (c *Client) RemoveConnectionFromGroup(ctx context.Context, group, connectionID string) error {
	if err := validateGroupAndConnection("RemoveConnectionFromGroup", group, connectionID); err != nil {
		return err
	}
	_, _, err := c.do(ctx, apiRequest{method: http.MethodDelete, segments: c.hubSegments("groups", group, "connections", connectionID), ok: []int{http.StatusNoContent, http.StatusOK}})
	return err
}

// RemoveConnectionFromAllGroups removes a connection from every group it is in.
func (c *Client) RemoveConnectionFromAllGroups(ctx context.Context, connectionID string) error {
	if err := validateConnectionID(connectionID); err != nil {
		return fmt.Errorf("webpubsub: RemoveConnectionFromAllGroups: %w", err)
	}
	_, _, err := c.do(ctx, apiRequest{method: http.MethodDelete, segments: c.hubSegments("connections", connectionID, "groups"), ok: []int{http.StatusNoContent, http.StatusOK}})
	return err
}

// AddUserToGroup adds every connection of userID to group.
func (c *Client) AddUserToGroup(ctx context.Context, group, userID string) error {
	if err := validateGroupAndUser("AddUserToGroup", group, userID); err != nil {
		return err
	}
	_, _, err := c.do(ctx, apiRequest{method: http.MethodPut, segments: c.hubSegments("users", userID, "groups", group), ok: []int{http.StatusOK}})
	return err
}

// RemoveUserFromGroup removes every connection of userID from group.
func (c *Client) RemoveUserFromGroup(ctx context.Context, group, userID string) error {
	if err := validateGroupAndUser("RemoveUserFromGroup", group, userID); err != nil {
		return err
	}
	_, _, err := c.do(ctx, apiRequest{method: http.MethodDelete, segments: c.hubSegments("users", userID, "groups", group), ok: []int{http.StatusNoContent, http.StatusOK}})
	return err
}

// RemoveUserFromAllGroups removes every connection of userID from every group.
func (c *Client) RemoveUserFromAllGroups(ctx context.Context, userID string) error {
	if err := ValidateUserID(userID); err != nil {
		return fmt.Errorf("webpubsub: RemoveUserFromAllGroups: %w", err)
	}
	_, _, err := c.do(ctx, apiRequest{method: http.MethodDelete, segments: c.hubSegments("users", userID, "groups"), ok: []int{http.StatusNoContent, http.StatusOK}})
	return err
}

// groupsToFilter is the body of :addToGroups and :removeFromGroups.
type groupsToFilter struct {
	Groups []string `json:"groups"`
	Filter string   `json:"filter,omitempty"`
}

// AddConnectionsToGroups adds the connections matching filter (all when empty) to groups.
func (c *Client) AddConnectionsToGroups(ctx context.Context, groups []string, filter string) error {
	return c.groupsByFilter(ctx, "AddConnectionsToGroups", ":addToGroups", groups, filter)
}

// RemoveConnectionsFromGroups removes the connections matching filter (all when empty) from
// groups.
func (c *Client) RemoveConnectionsFromGroups(ctx context.Context, groups []string, filter string) error {
	return c.groupsByFilter(ctx, "RemoveConnectionsFromGroups", ":removeFromGroups", groups, filter)
}

func (c *Client) groupsByFilter(ctx context.Context, op, action string, groups []string, filter string) error {
	if len(groups) == 0 {
		return fmt.Errorf("webpubsub: %s: no groups given", op)
	}
	for _, g := range groups {
		if err := ValidateGroupName(g); err != nil {
			return fmt.Errorf("webpubsub: %s: %w", op, err)
		}
	}
	body, err := json.Marshal(groupsToFilter{Groups: groups, Filter: filter})
	if err != nil {
		return fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	_, _, err = c.do(ctx, apiRequest{
		method: http.MethodPost, segments: c.hubSegments(action),
		contentType: ContentTypeJSON, body: body, ok: []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent},
	})
	return err
}

// GroupMember is one connection listed by ListConnectionsInGroup.
type GroupMember struct {
	// ConnectionID is the connection's id.
	ConnectionID string `json:"connectionId"`
	// UserID is the connection's user, empty when anonymous.
	UserID string `json:"userId,omitempty"`
}

// ListOptions bounds ListConnectionsInGroup.
type ListOptions struct {
	// MaxPageSize is the page size the service is asked for: 0 (service default) or 1..200.
	MaxPageSize int
	// Top caps the total number of members returned; 0 means all.
	Top int
}

// maxListPages stops a service that keeps returning nextLinks.
const maxListPages = 10000

// ListConnectionsInGroup lists the connections in group, following nextLink pages.
func (c *Client) ListConnectionsInGroup(ctx context.Context, group string, opts *ListOptions) ([]GroupMember, error) {
	const op = "ListConnectionsInGroup"
	if err := ValidateGroupName(group); err != nil {
		return nil, fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	if opts == nil {
		opts = &ListOptions{}
	}
	if opts.MaxPageSize < 0 || opts.MaxPageSize > 200 {
		return nil, fmt.Errorf("webpubsub: %s: maxpagesize %d is not in 1..200", op, opts.MaxPageSize)
	}
	if opts.Top < 0 {
		return nil, fmt.Errorf("webpubsub: %s: top %d is negative", op, opts.Top)
	}
	q := url.Values{}
	if opts.MaxPageSize > 0 {
		q.Set("maxpagesize", strconv.Itoa(opts.MaxPageSize))
	}
	if opts.Top > 0 {
		q.Set("top", strconv.Itoa(opts.Top))
	}
	u, err := c.buildURL(c.hubSegments("groups", group, "connections"), q)
	if err != nil {
		return nil, fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	var members []GroupMember
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == maxListPages {
			return nil, fmt.Errorf("webpubsub: %s: more than %d pages", op, maxListPages)
		}
		body, _, err := c.send(ctx, apiRequest{method: http.MethodGet, ok: []int{http.StatusOK}}, u)
		if err != nil {
			return nil, err
		}
		var p struct {
			Value    []GroupMember `json:"value"`
			NextLink string        `json:"nextLink"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("webpubsub: %s: decoding page %d: %w", op, page+1, err)
		}
		members = append(members, p.Value...)
		if opts.Top > 0 && len(members) >= opts.Top {
			return members[:opts.Top], nil
		}
		if p.NextLink == "" {
			return members, nil
		}
		if u, err = c.nextPageURL(p.NextLink); err != nil {
			return nil, fmt.Errorf("webpubsub: %s: %w", op, err)
		}
		if seen[u.String()] {
			return nil, fmt.Errorf("webpubsub: %s: the service repeated a nextLink", op)
		}
		seen[u.String()] = true
	}
}

// nextPageURL resolves a nextLink against the endpoint. Links to another host are refused so
// that a token is never sent elsewhere; api-version is added when missing.
func (c *Client) nextPageURL(link string) (*url.URL, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return nil, errors.New("nextLink is not a URL")
	}
	u := c.endpoint.ResolveReference(ref)
	if !strings.EqualFold(u.Scheme, c.endpoint.Scheme) || !strings.EqualFold(u.Host, c.endpoint.Host) {
		return nil, errors.New("nextLink points to another host")
	}
	u.Fragment = ""
	q := u.Query()
	if q.Get("api-version") == "" {
		q.Set("api-version", c.apiVersion)
		u.RawQuery = q.Encode()
	}
	return u, nil
}

func validateGroupAndConnection(op, group, connectionID string) error {
	if err := ValidateGroupName(group); err != nil {
		return fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	if err := validateConnectionID(connectionID); err != nil {
		return fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	return nil
}

func validateGroupAndUser(op, group, userID string) error {
	if err := ValidateGroupName(group); err != nil {
		return fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	if err := ValidateUserID(userID); err != nil {
		return fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	return nil
}
