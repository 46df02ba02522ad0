// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import "testing"

func TestNewAccessKey(t *testing.T) {
	a, err := NewAccessKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewAccessKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 43 || a == b {
		t.Fatalf("NewAccessKey() = %d characters, distinct %v; want 43 characters, distinct keys", len(a), a != b)
	}
	cs := ConnectionString{Endpoint: mustURL(t, "http://127.0.0.1:1"), AccessKey: a, Version: "1.0"}
	got, err := ParseConnectionString(cs.Format())
	if err != nil || got.AccessKey != a {
		t.Fatalf("a generated key does not survive a connection string: %v", err)
	}
}
