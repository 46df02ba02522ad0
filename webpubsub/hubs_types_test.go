// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"testing"
	"time"
)

func TestParseResourceID(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		id      string
		want    ResourceID
		wantErr string
	}{
		"the canonical form parses": {
			id:   testResourceID,
			want: ResourceID{SubscriptionID: "sub-1", ResourceGroup: "rg-1", Name: "wps-1"},
		},
		"segment names are case-insensitive": {
			id:   "/subscriptions/s/resourcegroups/g/providers/microsoft.signalrservice/WebPubSub/n/",
			want: ResourceID{SubscriptionID: "s", ResourceGroup: "g", Name: "n"},
		},
		"an empty id is rejected":                   {id: "", wantErr: "resource ID is empty"},
		"a relative id is rejected":                 {id: "subscriptions/s", wantErr: "must start with /"},
		"a short id is rejected":                    {id: "/subscriptions/s/resourceGroups/g", wantErr: "has 4 segments, want 8"},
		"another provider is rejected":              {id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/n", wantErr: `segment 6 is "Microsoft.Web"`},
		"a SignalR resource is rejected":            {id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.SignalRService/signalR/n", wantErr: `want "webPubSub"`},
		"an empty subscription is rejected":         {id: "/subscriptions//resourceGroups/g/providers/Microsoft.SignalRService/webPubSub/n", wantErr: `after "subscriptions" is empty`},
		"a hub path is rejected":                    {id: testResourceID + "/hubs/chat", wantErr: "has 10 segments"},
		"a name with a query character is rejected": {id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.SignalRService/webPubSub/n?x", wantErr: "not allowed"},
		"a name with an escape is rejected":         {id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.SignalRService/webPubSub/n%2F", wantErr: "not allowed"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseResourceID(tc.id)
			checkErr(t, err, tc.wantErr)
			if err != nil {
				return
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if again, err := ParseResourceID(got.String()); err != nil || again != got {
				t.Errorf("String() %q does not parse back: %v", got.String(), err)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		value string
		want  time.Duration
	}{
		"no header means the default":             {value: "", want: DefaultPollInterval},
		"seconds are honoured":                    {value: "3", want: 3 * time.Second},
		"zero is raised to the floor":             {value: "0", want: minRetryAfter},
		"a huge value is capped":                  {value: "86400", want: maxRetryAfter},
		"a past HTTP date is raised to the floor": {value: "Mon, 02 Jan 2006 15:04:05 GMT", want: minRetryAfter},
		"garbage means the default":               {value: "soon", want: DefaultPollInterval},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := map[string][]string{}
			if tc.value != "" {
				h["Retry-After"] = []string{tc.value}
			}
			if got := retryAfter(h); got != tc.want {
				t.Errorf("retryAfter(%q) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
}
