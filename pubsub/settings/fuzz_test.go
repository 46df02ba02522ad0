// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package settings

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzValidateURLTemplate checks that any template Validate accepts expands, for any hub and
// event name, to an absolute http(s) URL whose host is the template's own.
func FuzzValidateURLTemplate(f *testing.F) {
	for _, seed := range []string{
		"http://h/api/{hub}/{event}",
		"https://chat.example.com:8443/e?hub={hub}&event={event}&code=k",
		"http://{hub}.example.com/",
		"http://h:{event}/",
		"http://h/#{event}",
		"http://[::1]:80/{event}",
		"ftp://h/x",
		"http://u:p@h/",
		"",
	} {
		f.Add(seed, "chat", "message")
	}
	f.Fuzz(func(t *testing.T, tmpl, hub, event string) {
		if ValidateURLTemplate(tmpl) != nil {
			return
		}
		base, err := url.Parse(ExpandTemplate(tmpl, "hub", "event"))
		if err != nil {
			t.Fatalf("accepted template %q does not parse: %v", tmpl, err)
		}
		u, err := url.Parse(ExpandTemplate(tmpl, hub, event))
		if err != nil {
			t.Fatalf("accepted template %q expanded with %q/%q does not parse: %v", tmpl, hub, event, err)
		}
		if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
			t.Fatalf("accepted template %q expands to scheme %q", tmpl, u.Scheme)
		}
		if u.Host != base.Host {
			t.Fatalf("hub %q / event %q changed the host of %q from %q to %q", hub, event, tmpl, base.Host, u.Host)
		}
	})
}
