// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"strings"
	"testing"
)

const testKey = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"

func TestParseConnectionString(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in           string
		wantEndpoint string
		wantVersion  string
		wantErr      string
	}{
		"the canonical form parses": {
			in:           "Endpoint=https://x.webpubsub.azure.com;AccessKey=" + testKey + ";Version=1.0;",
			wantEndpoint: "https://x.webpubsub.azure.com", wantVersion: "1.0",
		},
		"keys are case-insensitive and spaces are trimmed": {
			in:           " endpoint = http://localhost:8080 ; ACCESSKEY=" + testKey + " ; version=1.0",
			wantEndpoint: "http://localhost:8080", wantVersion: "1.0",
		},
		"a trailing slash on the endpoint is dropped": {
			in:           "Endpoint=https://x.example.com/;AccessKey=" + testKey,
			wantEndpoint: "https://x.example.com",
		},
		"an endpoint without a scheme gets https": {
			in:           "Endpoint=x.example.com;AccessKey=" + testKey,
			wantEndpoint: "https://x.example.com",
		},
		"Port overrides the endpoint's port": {
			in:           "Endpoint=http://127.0.0.1:80;Port=8080;AccessKey=" + testKey,
			wantEndpoint: "http://127.0.0.1:8080",
		},
		"Port is applied to an IPv6 host": {
			in:           "Endpoint=http://[::1];Port=9000;AccessKey=" + testKey,
			wantEndpoint: "http://[::1]:9000",
		},
		"an access key containing '=' keeps it": {
			in:           "Endpoint=https://x.example.com;AccessKey=abc==;",
			wantEndpoint: "https://x.example.com",
		},
		"unknown keys are ignored": {
			in:           "Endpoint=https://x.example.com;AccessKey=" + testKey + ";ClientEndpoint=https://y;Foo=bar",
			wantEndpoint: "https://x.example.com",
		},
		"an uppercase scheme is normalised": {
			in:           "Endpoint=HTTPS://x.example.com;AccessKey=" + testKey,
			wantEndpoint: "https://x.example.com",
		},
		"an empty string is rejected":               {in: "", wantErr: "AccessKey is missing"},
		"a missing endpoint is rejected":            {in: "AccessKey=" + testKey, wantErr: "Endpoint is missing"},
		"a missing access key is rejected":          {in: "Endpoint=https://x", wantErr: "AccessKey is missing"},
		"an empty access key is rejected":           {in: "Endpoint=https://x;AccessKey=;", wantErr: "AccessKey is missing"},
		"a part without '=' is rejected":            {in: "Endpoint=https://x;" + testKey, wantErr: "part 2 has no '='"},
		"a duplicate key is rejected":               {in: "Endpoint=https://x;endpoint=https://y;AccessKey=k", wantErr: `"endpoint" appears more than once`},
		"a duplicate unknown key is not echoed":     {in: "Endpoint=https://x;AccessKey=k;s3cr3t=1;s3cr3t=2", wantErr: `"(unknown key)" appears more than once`},
		"an ftp endpoint is rejected":               {in: "Endpoint=ftp://x;AccessKey=k", wantErr: "not http or https"},
		"an endpoint with a path is rejected":       {in: "Endpoint=https://x/api;AccessKey=k", wantErr: "must not have a path"},
		"an endpoint with a query is rejected":      {in: "Endpoint=https://x?a=b;AccessKey=k", wantErr: "query"},
		"an endpoint without a host is rejected":    {in: "Endpoint=https://;AccessKey=k", wantErr: "no host"},
		"an endpoint with user info is rejected":    {in: "Endpoint=https://u:p@x;AccessKey=k", wantErr: "user info"},
		"a non-numeric port is rejected":            {in: "Endpoint=https://x;Port=http;AccessKey=k", wantErr: "Port"},
		"port zero is rejected":                     {in: "Endpoint=https://x;Port=0;AccessKey=k", wantErr: "1..65535"},
		"port 65536 is rejected":                    {in: "Endpoint=https://x;Port=65536;AccessKey=k", wantErr: "1..65535"},
		"an endpoint port out of range is rejected": {in: "Endpoint=https://x:70000;AccessKey=k", wantErr: "port"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cs, err := ParseConnectionString(tc.in)
			checkErr(t, err, tc.wantErr)
			if err != nil {
				if strings.Contains(err.Error(), testKey) {
					t.Fatalf("error %q contains the access key", err)
				}
				return
			}
			if got := cs.Endpoint.String(); got != tc.wantEndpoint {
				t.Errorf("Endpoint = %q, want %q", got, tc.wantEndpoint)
			}
			if cs.Version != tc.wantVersion {
				t.Errorf("Version = %q, want %q", cs.Version, tc.wantVersion)
			}
			if cs.AccessKey == "" {
				t.Error("AccessKey is empty")
			}
		})
	}
}

func TestConnectionStringFormatAndString(t *testing.T) {
	t.Parallel()
	cs, err := ParseConnectionString("endpoint=http://localhost:8080;accesskey=" + testKey)
	if err != nil {
		t.Fatal(err)
	}
	want := "Endpoint=http://localhost:8080;AccessKey=" + testKey + ";Version=1.0;"
	if got := cs.Format(); got != want {
		t.Errorf("Format() = %q, want %q", got, want)
	}
	if got := cs.String(); strings.Contains(got, testKey) || !strings.Contains(got, "AccessKey=***") {
		t.Errorf("String() = %q, want the key redacted", got)
	}
	again, err := ParseConnectionString(cs.Format())
	if err != nil {
		t.Fatalf("Format() does not parse back: %v", err)
	}
	if again.Endpoint.String() != cs.Endpoint.String() || again.AccessKey != cs.AccessKey {
		t.Errorf("round trip changed the connection string: %s", again)
	}
}
