// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/chathub/chathub/internal/tokenbucket"
)

// Refetches of the JWKS for a token signed with a key not seen yet are
// limited to refetchBurst at once and refetchRate per second afterwards: a
// rotation needs one, while a stream of forged tokens naming random keys
// must not turn into a stream of requests to the provider.
const (
	refetchRate  = 0.2
	refetchBurst = 3
	// maxJWKSBytes bounds the provider's JWKS document.
	maxJWKSBytes = 1 << 20
)

// errKeysUnavailable reports that the JWKS could not be fetched.
var errKeysUnavailable = errors.New("the provider's signing keys cannot be fetched")

// keySet verifies token signatures with the provider's published keys
// (oidc.KeySet). The keys are fetched on first use and again when a token
// names a key id that is not known (the provider rotated its keys); a
// signature that fails with a known key fails without a refetch.
type keySet struct {
	url    string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	fetchMu sync.Mutex // one fetch at a time; holders re-check the keys first

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched bool
	bucket  tokenbucket.Bucket
}

func newKeySet(url string, client *http.Client, log *slog.Logger, now func() time.Time) *keySet {
	return &keySet{url: url, client: client, log: log, now: now, bucket: tokenbucket.New(refetchBurst, now())}
}

// VerifySignature checks jwt's signature and returns its payload. The
// IDTokenVerifier has already checked the algorithm and the claims.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, supportedJOSEAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("the token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, known := k.lookup(kid)
	if !known {
		if keys, err = k.refetch(ctx, kid); err != nil {
			return nil, err
		}
	}
	for _, key := range keys {
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no published signing key has the token's key id %q", kid)
	}
	return nil, errors.New("the token's signature does not verify with the provider's keys")
}

// lookup returns the keys a token with kid may be signed with, and
// whether they can be trusted to be current (no refetch needed): some key
// has that id, or the token names no id and keys were fetched.
func (k *keySet) lookup(kid string) ([]jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if kid == "" {
		return k.keys, k.fetched
	}
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out, len(out) > 0
}

// refetch fetches the keys again when the refetch budget allows it and
// returns those matching kid.
func (k *keySet) refetch(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	if keys, known := k.lookup(kid); known { // another request fetched meanwhile
		return keys, nil
	}
	k.mu.Lock()
	allowed := !k.fetched || k.bucket.Take(refetchRate, refetchBurst, k.now())
	k.mu.Unlock()
	if !allowed {
		return nil, fmt.Errorf("no known signing key has the token's key id %q (the provider's keys were fetched recently)", kid)
	}
	keys, err := k.fetch(ctx)
	if err != nil {
		k.log.Warn("Cannot fetch the OpenID Connect provider's signing keys", "url", k.url, "error", err)
		return nil, fmt.Errorf("%w: %w", errKeysUnavailable, err)
	}
	k.mu.Lock()
	k.keys, k.fetched = keys, true
	k.mu.Unlock()
	k.log.Info("Fetched the OpenID Connect provider's signing keys", "keys", len(keys))
	keys, _ = k.lookup(kid)
	return keys, nil
}

// fetch downloads and parses the JWKS, keeping public signing keys only.
func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("the key set is larger than %d bytes", maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the key set is not valid JSON Web Keys: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.Valid() && key.IsPublic() && (key.Use == "" || key.Use == "sig") {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// supportedJOSEAlgs are supportedAlgs as go-jose's type.
var supportedJOSEAlgs = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(supportedAlgs))
	for i, a := range supportedAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()
