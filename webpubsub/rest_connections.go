// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// CloseOptions are the optional parameters of the bulk close operations.
type CloseOptions struct {
	// Excluded lists connection ids that stay open.
	Excluded []string
	// Reason is sent to the closed clients.
	Reason string
}

func closeQuery(op string, opts *CloseOptions) (url.Values, error) {
	q := url.Values{}
	if opts == nil {
		return q, nil
	}
	for _, id := range opts.Excluded {
		if err := validateConnectionID(id); err != nil {
			return nil, fmt.Errorf("webpubsub: %s: excluded %w", op, err)
		}
	}
	if len(opts.Excluded) > 0 {
		q["excluded"] = append([]string(nil), opts.Excluded...)
	}
	if opts.Reason != "" {
		q.Set("reason", opts.Reason)
	}
	return q, nil
}

// CloseConnection closes one connection, telling the client reason when not empty.
func (c *Client) CloseConnection(ctx context.Context, connectionID, reason string) error {
	if err := validateConnectionID(connectionID); err != nil {
		return fmt.Errorf("webpubsub: CloseConnection: %w", err)
	}
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	_, _, err := c.do(ctx, apiRequest{method: http.MethodDelete, segments: c.hubSegments("connections", connectionID), query: q, ok: []int{http.StatusNoContent, http.StatusOK}})
	return err
}

// CloseAllConnections closes every connection of the hub.
func (c *Client) CloseAllConnections(ctx context.Context, opts *CloseOptions) error {
	return c.closeMany(ctx, "CloseAllConnections", c.hubSegments(":closeConnections"), opts)
}

// CloseGroupConnections closes every connection in group.
func (c *Client) CloseGroupConnections(ctx context.Context, group string, opts *CloseOptions) error {
	if err := ValidateGroupName(group); err != nil {
		return fmt.Errorf("webpubsub: CloseGroupConnections: %w", err)
	}
	return c.closeMany(ctx, "CloseGroupConnections", c.hubSegments("groups", group, ":closeConnections"), opts)
}

// CloseUserConnections closes every connection of userID.
func (c *Client) CloseUserConnections(ctx context.Context, userID string, opts *CloseOptions) error {
	if err := ValidateUserID(userID); err != nil {
		return fmt.Errorf("webpubsub: CloseUserConnections: %w", err)
	}
	return c.closeMany(ctx, "CloseUserConnections", c.hubSegments("users", userID, ":closeConnections"), opts)
}

func (c *Client) closeMany(ctx context.Context, op string, segments []string, opts *CloseOptions) error {
	q, err := closeQuery(op, opts)
	if err != nil {
		return err
	}
	_, _, err = c.do(ctx, apiRequest{method: http.MethodPost, segments: segments, query: q, ok: []int{http.StatusNoContent, http.StatusOK}})
	return err
}

// ConnectionExists reports whether connectionID is connected to the hub.
func (c *Client) ConnectionExists(ctx context.Context, connectionID string) (bool, error) {
	if err := validateConnectionID(connectionID); err != nil {
		return false, fmt.Errorf("webpubsub: ConnectionExists: %w", err)
	}
	return c.exists(ctx, c.hubSegments("connections", connectionID), nil)
}

// GroupExists reports whether group has at least one connection.
func (c *Client) GroupExists(ctx context.Context, group string) (bool, error) {
	if err := ValidateGroupName(group); err != nil {
		return false, fmt.Errorf("webpubsub: GroupExists: %w", err)
	}
	return c.exists(ctx, c.hubSegments("groups", group), nil)
}

// UserExists reports whether userID has at least one connection.
func (c *Client) UserExists(ctx context.Context, userID string) (bool, error) {
	if err := ValidateUserID(userID); err != nil {
		return false, fmt.Errorf("webpubsub: UserExists: %w", err)
	}
	return c.exists(ctx, c.hubSegments("users", userID), nil)
}

func (c *Client) exists(ctx context.Context, segments []string, q url.Values) (bool, error) {
	_, found, err := c.do(ctx, apiRequest{method: http.MethodHead, segments: segments, query: q, ok: []int{http.StatusOK}, notFoundOK: true})
	return found, err
}

// Permission is a permission a connection can be granted on a group.
type Permission string

// Permissions of the service.
const (
	// PermissionSendToGroup lets a connection send to a group.
	PermissionSendToGroup Permission = "sendToGroup"
	// PermissionJoinLeaveGroup lets a connection join and leave a group.
	PermissionJoinLeaveGroup Permission = "joinLeaveGroup"
)

func permissionRequest(op string, p Permission, connectionID, targetGroup string) (url.Values, error) {
	if p != PermissionSendToGroup && p != PermissionJoinLeaveGroup {
		return nil, fmt.Errorf("webpubsub: %s: permission %q is not sendToGroup or joinLeaveGroup", op, truncate(string(p), 64))
	}
	if err := validateConnectionID(connectionID); err != nil {
		return nil, fmt.Errorf("webpubsub: %s: %w", op, err)
	}
	q := url.Values{}
	if targetGroup != "" {
		if err := ValidateGroupName(targetGroup); err != nil {
			return nil, fmt.Errorf("webpubsub: %s: target %w", op, err)
		}
		q.Set("targetName", targetGroup)
	}
	return q, nil
}

// GrantPermission grants p on targetGroup (every group when empty) to a connection.
func (c *Client) GrantPermission(ctx context.Context, p Permission, connectionID, targetGroup string) error {
	q, err := permissionRequest("GrantPermission", p, connectionID, targetGroup)
	if err != nil {
		return err
	}
	_, _, err = c.do(ctx, apiRequest{method: http.MethodPut, segments: c.hubSegments("permissions", string(p), "connections", connectionID), query: q, ok: []int{http.StatusOK}})
	return err
}

// RevokePermission revokes p on targetGroup (every group when empty) from a connection.
func (c *Client) RevokePermission(ctx context.Context, p Permission, connectionID, targetGroup string) error {
	q, err := permissionRequest("RevokePermission", p, connectionID, targetGroup)
	if err != nil {
		return err
	}
	_, _, err = c.do(ctx, apiRequest{method: http.MethodDelete, segments: c.hubSegments("permissions", string(p), "connections", connectionID), query: q, ok: []int{http.StatusNoContent, http.StatusOK}})
	return err
}

// CheckPermission reports whether a connection holds p on targetGroup (any group when empty).
func (c *Client) CheckPermission(ctx context.Context, p Permission, connectionID, targetGroup string) (bool, error) {
	q, err := permissionRequest("CheckPermission", p, connectionID, targetGroup)
	if err != nil {
		return false, err
	}
	return c.exists(ctx, c.hubSegments("permissions", string(p), "connections", connectionID), q)
}

// GenerateTokenOptions are the parameters of GenerateClientToken.
type GenerateTokenOptions struct {
	// UserID becomes the token's sub.
	UserID string
	// Roles become the token's role claim.
	Roles []string
	// Groups become the token's webpubsub.group claim.
	Groups []string
	// MinutesToExpire is the token lifetime; 0 means the service default (60).
	MinutesToExpire int
	// ClientType is "Default" or "MQTT"; "" means the service default.
	ClientType string
}

// GenerateClientToken asks the service to sign a client access token (for Entra-only
// services; with an access key ClientAccess signs locally).
func (c *Client) GenerateClientToken(ctx context.Context, opts *GenerateTokenOptions) (string, error) {
	const op = "GenerateClientToken"
	if opts == nil {
		opts = &GenerateTokenOptions{}
	}
	q := url.Values{}
	if opts.UserID != "" {
		q.Set("userId", opts.UserID)
	}
	if len(opts.Roles) > 0 {
		q["role"] = append([]string(nil), opts.Roles...)
	}
	for _, g := range opts.Groups {
		if err := ValidateGroupName(g); err != nil {
			return "", fmt.Errorf("webpubsub: %s: %w", op, err)
		}
	}
	if len(opts.Groups) > 0 {
		q["group"] = append([]string(nil), opts.Groups...)
	}
	switch {
	case opts.MinutesToExpire < 0:
		return "", fmt.Errorf("webpubsub: %s: minutesToExpire %d is negative", op, opts.MinutesToExpire)
	case opts.MinutesToExpire > 0:
		q.Set("minutesToExpire", strconv.Itoa(opts.MinutesToExpire))
	}
	switch opts.ClientType {
	case "":
	case "Default", "MQTT":
		q.Set("clientType", opts.ClientType)
	default:
		return "", fmt.Errorf("webpubsub: %s: clientType %q is not Default or MQTT", op, truncate(opts.ClientType, 32))
	}
	body, _, err := c.do(ctx, apiRequest{method: http.MethodPost, segments: c.hubSegments(":generateToken"), query: q, ok: []int{http.StatusOK}})
	if err != nil {
		return "", err
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("webpubsub: %s: decoding response: %w", op, err)
	}
	if r.Token == "" {
		return "", fmt.Errorf("webpubsub: %s: the response has no token", op)
	}
	return r.Token, nil
}

// Health checks the service is up (HEAD /api/health answers 200).
func (c *Client) Health(ctx context.Context) error {
	_, _, err := c.do(ctx, apiRequest{method: http.MethodHead, segments: []string{"api", "health"}, ok: []int{http.StatusOK}})
	return err
}
