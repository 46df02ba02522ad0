// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// accessKeyBytes is the entropy of a generated access key (256 bits, as Azure's keys).
const accessKeyBytes = 32

// NewAccessKey returns a fresh random access key: 32 random bytes, base64url without
// padding (43 characters). Every place that generates a key (the PubSub service's command,
// the embedded chat, the operator's embedded Secret) uses this one.
func NewAccessKey() (string, error) {
	b := make([]byte, accessKeyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating an access key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
