// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"sync"
	"time"
)

// keyCache keeps the primary connection string ARM listKeys returned, per
// resource (management endpoint and resource ID), so that listKeys is not
// called at every reconcile and resync. An entry lives for the reconciler's
// KeysTTL and is dropped when ARM refuses a call for the resource with 401 or
// 403 (the credential or its role changed: the keys may have too).
type keyCache struct {
	mu      sync.Mutex
	entries map[string]keyEntry
}

type keyEntry struct {
	connectionString string
	fetched          time.Time
}

// get returns the cached connection string of resource when it is younger
// than ttl at now.
func (c *keyCache) get(resource string, now time.Time, ttl time.Duration) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[resource]
	if !ok || now.Sub(e.fetched) >= ttl || now.Before(e.fetched) {
		return "", false
	}
	return e.connectionString, true
}

func (c *keyCache) put(resource, connectionString string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]keyEntry{}
	}
	c.entries[resource] = keyEntry{connectionString: connectionString, fetched: now}
}

func (c *keyCache) invalidate(resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, resource)
}
