// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import "testing"

func TestSignatureMatchesTheProtocolTestVector(t *testing.T) {
	t.Parallel()
	// Protocol doc §3.2 (from the .NET event handler tests).
	got := Signature("7aab239577fd4f24bc919802fb629f5f", "0f9c97a2f0bf4706afe87a14e0797b11")
	want := "sha256=7767effcb3946f3e1de039df4b986ef02c110b1469d02c0a06f41b3b727ab561"
	if got != want {
		t.Fatalf("Signature = %q, want %q", got, want)
	}
}

func TestSignatureHeader(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		keys []string
		want string
	}{
		"one key gives one entry":      {keys: []string{"k1"}, want: Signature("k1", "c")},
		"two keys give two entries":    {keys: []string{"k1", "k2"}, want: Signature("k1", "c") + "," + Signature("k2", "c")},
		"empty keys are skipped":       {keys: []string{"", "k2", ""}, want: Signature("k2", "c")},
		"no keys give an empty header": {keys: nil, want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := SignatureHeader(tc.keys, "c"); got != tc.want {
				t.Errorf("SignatureHeader = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	const conn = "0f9c97a2f0bf4706afe87a14e0797b11"
	primary, secondary := "primary-key", "secondary-key"
	sigP, sigS := Signature(primary, conn), Signature(secondary, conn)
	tests := map[string]struct {
		header string
		conn   string
		keys   []string
		want   bool
	}{
		"a signature by the only key verifies":                {header: sigP, conn: conn, keys: []string{primary}, want: true},
		"a signature by the secondary key verifies":           {header: sigS, conn: conn, keys: []string{primary, secondary}, want: true},
		"a header with both signatures verifies":              {header: sigP + "," + sigS, conn: conn, keys: []string{secondary}, want: true},
		"entries are trimmed":                                 {header: " x , " + sigP + " ", conn: conn, keys: []string{primary}, want: true},
		"upper-case hex verifies":                             {header: "SHA256=" + sigP[len("sha256="):], conn: conn, keys: []string{primary}, want: true},
		"the protocol test vector verifies":                   {header: "sha256=7767effcb3946f3e1de039df4b986ef02c110b1469d02c0a06f41b3b727ab561", conn: conn, keys: []string{"7aab239577fd4f24bc919802fb629f5f"}, want: true},
		"a signature by another key fails":                    {header: Signature("other", conn), conn: conn, keys: []string{primary, secondary}},
		"a signature for another connection fails":            {header: sigP, conn: "other", keys: []string{primary}},
		"an empty header fails":                               {header: "", conn: conn, keys: []string{primary}},
		"a header without the prefix fails":                   {header: sigP[len("sha256="):], conn: conn, keys: []string{primary}},
		"no keys fail":                                        {header: sigP, conn: conn},
		"an empty key does not verify an empty-key signature": {header: Signature("", conn), conn: conn, keys: []string{""}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := VerifySignature(tc.header, tc.conn, tc.keys); got != tc.want {
				t.Errorf("VerifySignature = %v, want %v", got, tc.want)
			}
		})
	}
}
