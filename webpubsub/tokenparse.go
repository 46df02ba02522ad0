// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxTokenLen bounds the tokens ParseToken accepts; real tokens are far smaller.
const maxTokenLen = 16 << 10

// TokenClaims are the claims of a Web PubSub access token (client or service).
type TokenClaims struct {
	// Audience is the aud claim (the first one when it is an array).
	Audience string
	// Subject is the sub claim: the user id of a client token.
	Subject string
	// Roles is the role claim (a string or an array of strings).
	Roles []string
	// Groups is the webpubsub.group claim (a string or an array of strings).
	Groups []string
	// ExpiresAt is the exp claim.
	ExpiresAt time.Time
	// IssuedAt is the iat claim, zero when absent.
	IssuedAt time.Time
}

// ParseToken verifies an HS256 token signed with any of accessKeys and returns its claims.
// exp is required and checked against now with the given leeway; aud is returned, not
// checked, because each endpoint compares it differently. Errors never contain the token.
func ParseToken(token string, accessKeys []string, now time.Time, leeway time.Duration) (*TokenClaims, error) {
	if token == "" {
		return nil, errors.New("token is empty")
	}
	if len(token) > maxTokenLen {
		return nil, fmt.Errorf("token is %d bytes long, the limit is %d", len(token), maxTokenLen)
	}
	lastErr := errors.New("no access key to verify the token with")
	for _, key := range accessKeys {
		if key == "" {
			continue
		}
		c, err := parseWithKey(token, key, now, leeway)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			break // the token itself is bad; another key will not help
		}
	}
	return nil, fmt.Errorf("invalid token: %w", lastErr)
}

// rawClaims decodes role and group claims that may be a string or an array.
type rawClaims struct {
	jwt.RegisteredClaims
	Role  stringOrList `json:"role,omitempty"`
	Group stringOrList `json:"webpubsub.group,omitempty"`
}

func parseWithKey(token, key string, now time.Time, leeway time.Duration) (*TokenClaims, error) {
	var rc rawClaims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if _, err := p.ParseWithClaims(token, &rc, func(*jwt.Token) (any, error) { return []byte(key), nil }); err != nil {
		return nil, err
	}
	c := &TokenClaims{Subject: rc.Subject, Roles: rc.Role, Groups: rc.Group}
	if len(rc.Audience) > 0 {
		c.Audience = rc.Audience[0]
	}
	if rc.ExpiresAt != nil {
		c.ExpiresAt = rc.ExpiresAt.Time
	}
	if rc.IssuedAt != nil {
		c.IssuedAt = rc.IssuedAt.Time
	}
	return c, nil
}

// stringOrList is a JSON string or array of strings.
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("claim is neither a string nor an array of strings")
	}
	*s = many
	return nil
}
