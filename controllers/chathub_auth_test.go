// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"flag"
	"io"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/chatserver"
	"github.com/chathub/chathub/chatserver/auth"
	"github.com/chathub/chathub/internal/cli"
)

// TestAuthSpecReachesTheChatServer creates ChatHubs with each sign-in mode
// through the real API server (its defaults applied), renders the chat
// server's arguments and parses them with the chat server's own flags: the
// pods start with the sign-in the spec asks for.
func TestAuthSpecReachesTheChatServer(t *testing.T) {
	ns := newNamespace(t)
	tests := map[string]struct {
		auth *chatv1.AuthSpec
		want auth.Config
	}{
		"no auth is anonymous": {
			want: auth.DefaultConfig(),
		},
		"header sign-in behind a sidecar and the ingress controllers": {
			auth: &chatv1.AuthSpec{Mode: chatv1.AuthHeader, Header: &chatv1.HeaderAuth{TrustedProxies: []string{"127.0.0.1", "10.244.0.0/16"}}},
			want: func() auth.Config {
				c := auth.DefaultConfig()
				c.Mode, c.TrustedProxies = auth.ModeHeader, "127.0.0.1,10.244.0.0/16"
				return c
			}(),
		},
		"oidc sign-in with the defaults": {
			auth: &chatv1.AuthSpec{Mode: chatv1.AuthOIDC, OIDC: &chatv1.OIDCAuth{IssuerURL: "https://login.example.com/realms/chat", ClientID: "chat-ui"}},
			want: func() auth.Config {
				c := auth.DefaultConfig()
				c.Mode, c.IssuerURL, c.ClientID = auth.ModeOIDC, "https://login.example.com/realms/chat", "chat-ui"
				return c
			}(),
		},
		"oidc sign-in with an API audience, the email claim and more scopes": {
			auth: &chatv1.AuthSpec{Mode: chatv1.AuthOIDC, OIDC: &chatv1.OIDCAuth{
				IssuerURL: "https://login.example.com", ClientID: "chat-ui", Audience: "api://chat",
				UserClaim: "email", Scopes: []string{"openid", "email", "offline_access"}}},
			want: func() auth.Config {
				c := auth.DefaultConfig()
				c.Mode, c.IssuerURL, c.ClientID, c.Audience = auth.ModeOIDC, "https://login.example.com", "chat-ui", "api://chat"
				c.UserClaim, c.Scopes = "email", "openid email offline_access"
				return c
			}(),
		},
	}
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			h := embeddedHub("auth"+strconv.Itoa(i), ns)
			h.Spec.Auth = tc.auth
			mustCreate(t, h)
			got, err := getHub(h.Name, ns)
			if err != nil {
				t.Fatal(err)
			}
			args := chatServerArgs(got)
			cfg := chatserver.DefaultConfig()
			fs := flag.NewFlagSet("chatserver", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cfg.BindFlags(fs)
			cli.NewLogConfig().BindFlags(fs) // the flags every subcommand adds
			if err := fs.Parse(args[1:]); err != nil {
				t.Fatalf("the chat server refuses its arguments %q: %v", args, err)
			}
			if err := cfg.Auth.Validate(); err != nil {
				t.Fatalf("the chat server refuses the sign-in of %q: %v", args, err)
			}
			if diff := cmp.Diff(tc.want, cfg.Auth); diff != "" {
				t.Errorf("sign-in configuration (-want +got):\n%s", diff)
			}
		})
	}
}
