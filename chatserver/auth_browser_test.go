// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chathub/chathub/chatserver/auth"
	"github.com/chathub/chathub/internal/proc"
	"github.com/chathub/chathub/internal/testoidc"
)

// signInBrowser opens pages in one headless Chromium, each in a browser
// context of its own (cookies, storage), as two people on two machines.
func signInBrowser(t *testing.T) func(name string) *browserPage {
	t.Helper()
	b := startBrowser(t, 1000, 760)
	return func(name string) *browserPage { return b.tab(t, name) }
}

// signedInAs waits until the page shows user signed in and connected,
// through the sign-in's redirects (each replaces the page's JavaScript
// context, which fails an evaluation running at that moment: retried).
func (p *browserPage) signedInAs(user string) {
	p.t.Helper()
	cond := fmt.Sprintf(`!!document.querySelector('#me') && document.querySelector('#me').textContent === 'Signed in as ' + %s && `+
		`!document.querySelector('#me').hidden && document.querySelector('#status').dataset.state === 'connected' && `+
		`document.querySelector('#join-view').hidden`, jsString(user))
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.waitFor(user+" signed in and connected", cond) // fails, showing the page
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// negotiateFromPage calls /negotiate from the page as a script on it
// could, asking for another name and claiming it in the proxy's header,
// and returns the status and body.
func (p *browserPage) negotiateFromPage(extra string) (int, string) {
	p.t.Helper()
	res, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]any](`fetch('negotiate?id=mallory', {cache: 'no-store', headers: {'X-Forwarded-User': 'mallory'`+extra+`}})`+
		`.then(r => r.text().then(t => [r.status, t]))`, chromedp.EvalAwaitPromise))
	if err != nil || len(res) != 2 {
		p.t.Fatalf("%s: fetch gave %v, %v", p.name, res, err)
	}
	status, _ := res[0].(float64)
	body, _ := res[1].(string)
	return int(status), body
}

// oauth2ProxyPath finds the oauth2-proxy the Makefile builds; the test
// fails (never skips) without it.
func oauth2ProxyPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("OAUTH2_PROXY"), filepath.Join("..", "bin", "oauth2-proxy")} {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil { //nolint:gosec // G703: the binary the test environment names
				return abs
			}
		}
	}
	t.Fatal("oauth2-proxy is not built: run `make oauth2-proxy` and try again")
	return ""
}

// freeAddr returns a 127.0.0.1 address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// startOAuth2Proxy runs a real oauth2-proxy in front of upstream, signing
// users in with the provider, and returns its base URL.
func startOAuth2Proxy(t *testing.T, p *testoidc.Provider, upstream string) string {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr
	cmd := exec.Command(oauth2ProxyPath(t), //nolint:gosec // G204: the test's own proxy binary
		"--http-address="+addr,
		"--upstream="+upstream+"/",
		"--provider=oidc",
		"--oidc-issuer-url="+p.M.Issuer(),
		"--client-id="+p.M.ClientID,
		"--client-secret="+p.M.ClientSecret,
		"--redirect-url="+base+"/oauth2/callback",
		"--cookie-secret=0123456789abcdef0123456789abcdef",
		"--cookie-secure=false",
		"--email-domain=*",
		"--skip-provider-button=true",
		"--code-challenge-method=S256",
		"--silence-ping-logging=true",
	)
	out := &proc.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting oauth2-proxy: %v", err)
	}
	t.Cleanup(func() {
		proc.Stop(cmd, syscall.SIGTERM, 5*time.Second)
		if t.Failed() {
			t.Logf("oauth2-proxy's output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/ping")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy did not answer /ping within 30 s: %v\n%s", err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserSignInThroughOAuth2Proxy runs --auth header behind a real
// oauth2-proxy signing users in with a real OpenID Connect provider: two
// people sign in through Chromium, chat with each other, and cannot speak
// under another name.
func TestBrowserSignInThroughOAuth2Proxy(t *testing.T) {
	p := testoidc.Start(t)
	st := startStackWith(t, func(cfg *Config) {
		cfg.ProxyClient = true // the WebSocket goes through the proxy too
		cfg.Auth.Mode, cfg.Auth.Header, cfg.Auth.TrustedProxies = auth.ModeHeader, "X-Forwarded-User", "127.0.0.1"
	})
	proxy := startOAuth2Proxy(t, p, st.chat.URL)
	open := signInBrowser(t)

	pages := map[string]*browserPage{}
	for _, user := range []string{"alice", "bob"} {
		p.M.QueueUser(testoidc.User(user))
		pg := open(user + "'s page")
		pg.do(chromedp.Navigate(proxy + "/"))
		pg.signedInAs(user)
		if evalAs[bool](pg, `!document.querySelector('#name').offsetParent && document.querySelector('#leave').hidden`) == false {
			t.Errorf("%s: the name field or Leave is shown although the proxy signed the user in", pg.name)
		}
		pages[user] = pg
	}
	alice, bob := pages["alice"], pages["bob"]
	alice.send("hello bob, it is really me")
	bob.waitFor("alice's message", messageShown("alice", "hello bob, it is really me"))
	bob.send("hi alice")
	alice.waitFor("bob's message", messageShown("bob", "hi alice"))

	// A script on bob's page asks for another name and forges the proxy's
	// header: oauth2-proxy replaces the header, the chat ignores ?id=.
	status, body := bob.negotiateFromPage("")
	if status != http.StatusOK {
		t.Fatalf("negotiate from bob's page: %d %s", status, body)
	}
	if _, claims := parseAccessURL(t, body); claims["sub"] != "bob" {
		t.Errorf("bob asked for mallory and got a token for %v, want bob", claims["sub"])
	}
	// Without the proxy's sign-in there is no chat.
	resp, _ := getNegotiate(t, st.chat.URL, "id=mallory", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("negotiate without the proxy's header: %d, want 401", resp.StatusCode)
	}
	resp, err := http.Get(proxy + "/negotiate?id=mallory")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("oauth2-proxy let a request without its cookie through to /negotiate")
	}
}

// TestBrowserSignInWithOIDC runs --auth oidc: the bundled page signs in
// with the provider (authorization code with PKCE, a public client), keeps
// the token in memory, and the chat names each user by the token's claim.
func TestBrowserSignInWithOIDC(t *testing.T) {
	p := testoidc.Start(t)
	st := startStackWith(t, func(cfg *Config) {
		cfg.Auth.Mode, cfg.Auth.IssuerURL, cfg.Auth.ClientID = auth.ModeOIDC, p.M.Issuer(), p.M.ClientID
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go st.server.Watch(ctx)
	waitForDiscovery(t, st.chat.URL)
	open := signInBrowser(t)

	pages := map[string]*browserPage{}
	for _, user := range []string{"alice", "bob"} {
		pg := open(user + "'s page")
		pg.do(chromedp.Navigate(st.chat.URL + "/"))
		pg.waitFor("the sign-in button", `document.querySelector('#join').textContent === 'Sign in' && !document.querySelector('#join-view').hidden`)
		if evalAs[bool](pg, `!!document.querySelector('#name').offsetParent`) {
			t.Errorf("%s: the name field is shown in oidc mode", pg.name)
		}
		p.M.QueueUser(testoidc.User(user))
		pg.do(chromedp.Click(chromedp.ID("join")))
		pg.signedInAs(user)
		// Only the token in memory remains: nothing in storage, cookies or the URL.
		if left := evalAs[string](pg, `JSON.stringify([sessionStorage.length, localStorage.length, document.cookie, location.search])`); left != `[0,0,"",""]` {
			t.Errorf("%s: after sign-in the page keeps %s (sessionStorage, localStorage, cookies, query), want nothing", pg.name, left)
		}
		pages[user] = pg
	}
	alice, bob := pages["alice"], pages["bob"]
	alice.send("signed in properly")
	bob.waitFor("alice's message", messageShown("alice", "signed in properly"))
	bob.send("me too")
	alice.waitFor("bob's message", messageShown("bob", "me too"))

	// Without the token the page's scripts cannot get a client URL.
	if status, body := bob.negotiateFromPage(""); status != http.StatusUnauthorized {
		t.Errorf("negotiate without the bearer token: %d %s, want 401", status, body)
	}
	// Signing out forgets the token; signing in again works.
	bob.do(chromedp.Click(chromedp.ID("leave")))
	bob.waitFor("the sign-in form", `!document.querySelector('#join-view').hidden && document.querySelector('#join').textContent === 'Sign in'`)
	p.M.QueueUser(testoidc.User("bob"))
	bob.do(chromedp.Click(chromedp.ID("join")))
	bob.signedInAs("bob")
	if !strings.Contains(evalAs[string](bob, `document.querySelector('#me').textContent`), "bob") {
		t.Error("bob is not shown as signed in after signing in again")
	}
}

// TestBrowserJoinBeforeTheSignInModeIsKnown joins while GET /auth/config is
// still on its way (a slow network, a busy server): the name typed is kept
// and the join happens once the answer is there, instead of being lost.
func TestBrowserJoinBeforeTheSignInModeIsKnown(t *testing.T) {
	st := startStack(t, false)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/config" {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		st.server.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	open := signInBrowser(t)
	pg := open("zoe's page")
	pg.do(chromedp.Navigate(slow.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "zoe"),
		chromedp.Click(chromedp.ID("join")))
	if evalAs[bool](pg, `document.querySelector('#join-view').hidden`) {
		t.Fatal("the page joined before it knew how to sign in")
	}
	close(release)
	pg.signedInAs("zoe")
}
