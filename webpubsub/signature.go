// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

const signaturePrefix = "sha256="

// Signature returns "sha256=<lowercase hex of HMAC-SHA256(accessKey, connectionID)>", the
// ce-signature entry for one access key. The HMAC key is the UTF-8 bytes of accessKey.
func Signature(accessKey, connectionID string) string {
	m := hmac.New(sha256.New, []byte(accessKey))
	m.Write([]byte(connectionID))
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// SignatureHeader returns the ce-signature header value: one Signature per non-empty key,
// comma-joined.
func SignatureHeader(accessKeys []string, connectionID string) string {
	parts := make([]string, 0, len(accessKeys))
	for _, k := range accessKeys {
		if k == "" {
			continue
		}
		parts = append(parts, Signature(k, connectionID))
	}
	return strings.Join(parts, ",")
}

// VerifySignature reports whether any comma-separated entry of header equals the Signature of
// connectionID under any non-empty key of accessKeys. Entries are trimmed and compared
// case-insensitively in constant time.
func VerifySignature(header, connectionID string, accessKeys []string) bool {
	if header == "" {
		return false
	}
	want := make([][]byte, 0, len(accessKeys))
	for _, k := range accessKeys {
		if k != "" {
			want = append(want, []byte(Signature(k, connectionID)))
		}
	}
	ok := 0
	for _, entry := range strings.Split(header, ",") {
		got := []byte(strings.ToLower(strings.TrimSpace(entry)))
		for _, w := range want {
			ok |= subtle.ConstantTimeCompare(got, w)
		}
	}
	return ok == 1
}
