// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chathub/chathub/internal/chromiumtest"
)

// browser is one headless Chromium (Debian's chromium) shared by the users of
// a test; each user gets its own browser context (own storage, own cookies).
type browser struct {
	ctx context.Context
}

// newBrowser starts Chromium for the test and stops it at its end.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(e2e.chromium),
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	return &browser{ctx: chromiumtest.Start(t, e2e.stateDir, opts...)}
}

// user is one person chatting in one page.
type user struct {
	t    *testing.T
	name string
	url  string
	ctx  context.Context
}

// entry is one line of a page's message list.
type entry struct {
	Kind string `json:"kind"` // "msg" or "notice"
	From string `json:"from"` // sender of a msg, without " (you)"
	Text string `json:"text"`
}

// readEntries reads the message list of the page, in order.
const readEntries = `Array.from(document.querySelectorAll('#messages li')).filter(li => !li.classList.contains('empty')).map(li => {
  if (li.classList.contains('msg')) {
    const s = li.querySelector('.sender'), x = li.querySelector('.text');
    return {kind: 'msg', from: (s ? s.textContent : '').replace(/ \(you\)$/, ''), text: x ? x.textContent : ''};
  }
  const n = li.querySelector('span');
  return {kind: 'notice', from: '', text: (n ? n.textContent : li.textContent).trim()};
})`

// join opens the chat at url in a new browser context and joins as name.
func (b *browser) join(t *testing.T, url, name string) *user {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	u := &user{t: t, name: name, url: url, ctx: ctx}
	// The first run on a context opens its tab and ties the tab's life to
	// that run's context: it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab for %s: %v", name, err)
	}
	u.run("open the chat", 60*time.Second, chromedp.Navigate(url))
	u.waitJS("the join form", joinFormShown, 60*time.Second)
	u.run("join", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.Click(chromedp.CSS("#join")),
	)
	u.waitConnected()
	return u
}

// Page states, polled with JavaScript.
const (
	joinFormShown = `(() => { const n = document.querySelector('#join-view'); return !!n && !n.hidden && !!document.querySelector('#name'); })()`
	connected     = `(() => { const s = document.querySelector('#status'), b = document.querySelector('#send');
		return !!s && s.dataset.state === 'connected' && !!b && !b.disabled && !document.querySelector('#chat-view').hidden; })()`
)

// waitConnected waits for the page's connection state to say connected.
func (u *user) waitConnected() {
	u.t.Helper()
	u.waitJS("the connection", connected, 60*time.Second)
}

// rejoin leaves the chat and joins again under the same name.
func (u *user) rejoin() {
	u.t.Helper()
	u.run("leave", 30*time.Second, chromedp.Click(chromedp.CSS("#leave")))
	u.waitJS("the join form after leaving", joinFormShown, 30*time.Second)
	// The form may keep the last name: clear it, then type as a user would.
	u.waitJS("the name field to clear", `(() => { const n = document.querySelector('#name'); n.value = '';
		n.dispatchEvent(new Event('input', {bubbles: true})); return n.value === ''; })()`, 10*time.Second)
	u.run("join again", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#name"), u.name),
		chromedp.Click(chromedp.CSS("#join")),
	)
	u.waitConnected()
}

// say types text into the composer and sends it.
func (u *user) say(text string) {
	u.t.Helper()
	u.waitConnected()
	u.run("send "+text, 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#message"), text),
		chromedp.Click(chromedp.CSS("#send")),
	)
}

// waitJS polls a JavaScript expression of the page until it is true.
func (u *user) waitJS(what, expr string, timeout time.Duration) {
	u.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	u.t.Fatalf("%s at %s: waiting for %s: not there after %s (last error %v; %s)", u.name, u.url, what, timeout, lastErr, u.pageState())
}

// pageState describes the page for failure messages, within a few seconds.
func (u *user) pageState() string {
	ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
	defer cancel()
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[[]entry](readEntries))
	status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#status') || {}).textContent || ''`))
	return fmt.Sprintf("status %q, page %s", strings.TrimSpace(status), summary(page))
}

// entries returns the page's message list.
func (u *user) entries() []entry {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]entry](readEntries))
	if err != nil {
		u.t.Fatalf("%s at %s: reading the messages: %v", u.name, u.url, err)
	}
	return out
}

// count returns how many entries of kind have text (and sender from, when set).
func (u *user) count(kind, from, text string) int {
	n := 0
	for _, e := range u.entries() {
		if e.Kind == kind && e.Text == text && (from == "" || e.From == from) {
			n++
		}
	}
	return n
}

// waitFor waits until the page shows an entry of kind with text (from from).
func (u *user) waitFor(kind, from, text string) {
	u.t.Helper()
	eventually(u.t, 30*time.Second, fmt.Sprintf("%s sees %s %q from %q", u.name, kind, text, from), func() string {
		if u.count(kind, from, text) > 0 {
			return ""
		}
		return "the page shows " + summary(u.entries())
	})
}

// contains reports whether any entry of the page mentions s.
func (u *user) contains(s string) bool {
	for _, e := range u.entries() {
		if strings.Contains(e.Text, s) {
			return true
		}
	}
	return false
}

func (u *user) run(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		u.t.Fatalf("%s at %s: %s: %v (%s)", u.name, u.url, what, err, u.pageState())
	}
}

// summary prints a page's entries compactly for failure messages.
func summary(es []entry) string {
	var b strings.Builder
	b.WriteString("[")
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		if e.Kind == "msg" {
			fmt.Fprintf(&b, "%s: %q", e.From, e.Text)
		} else {
			fmt.Fprintf(&b, "(%s)", e.Text)
		}
	}
	b.WriteString("]")
	return b.String()
}
