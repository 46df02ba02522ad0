// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium; the test fails (never skips)
// without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil { //nolint:gosec // G703: looks for the browser the test environment names
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium is not installed: run `make chromium` (apt-get install -y chromium) and try again")
	return ""
}

// testOutputDir is where the test leaves its screenshots: a folder under
// $CHATHUB_TEST_OUTPUT, or the test's temporary folder.
func testOutputDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("CHATHUB_TEST_OUTPUT"); base != "" {
		dir = filepath.Join(base, "chatserver", t.Name())
		if err := os.MkdirAll(dir, 0o750); err != nil { //nolint:gosec // G703: the output folder the test environment names
			t.Fatal(err)
		}
	}
	return dir
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// browserPage is one tab of the headless browser.
type browserPage struct {
	t    *testing.T
	name string
	ctx  context.Context
}

func (p *browserPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// waitFor polls a JavaScript condition until it is true.
func (p *browserPage) waitFor(what, expr string) {
	p.t.Helper()
	var ok bool
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; {
		ok, err = chromedp.Run(p.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		// A navigation that ends while the poll runs destroys the page's
		// JavaScript context under it: poll again in the new one.
		if err == nil || !navigatedAway(err) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !ok {
		shown, serr := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(document.querySelector('#messages') || document.body).innerText + '\n[composer: ' + document.querySelector('#message').value + ']'`))
		if serr != nil {
			shown = serr.Error()
		}
		p.t.Fatalf("%s: waiting for %s: %v; the page shows:\n%s", p.name, what, err, shown)
	}
}

// navigatedAway reports whether err is the DevTools protocol's answer to a
// script run in a JavaScript context that a navigation has replaced.
func navigatedAway(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Execution context was destroyed")
}

// evalAs evaluates a JavaScript expression in the page.
func evalAs[T any](p *browserPage, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: evaluating %s: %v", p.name, expr, err)
	}
	return v
}

// send types text into the composer, presses Enter and waits until the
// server has accepted the message (the composer keeps it until then).
func (p *browserPage) send(text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.ID("message"), text), pressEnter())
	p.waitFor("the composer to empty after sending "+jsString(text), `document.querySelector('#message').value === ''`)
}

// pressEnter presses and releases Enter the way a keyboard does: one
// keyDown carrying the text, so the page's preventDefault applies (chromedp's
// SendKeys adds a separate char event that would insert a newline anyway).
func pressEnter() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		key := input.DispatchKeyEventParams{Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		down := key
		down.Type, down.Text, down.UnmodifiedText = input.DispatchKeyEventTypeKeyDown, "\r", "\r"
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := key
		up.Type = input.DispatchKeyEventTypeKeyUp
		_, err := chromedp.Call(ctx, input.DispatchKeyEvent, up)
		return err
	})
}

func (p *browserPage) screenshot(dir, file string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, png, 0o600); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot of %s: %s", p.name, path)
}

// noticeShown is a condition: a system notice with exactly this text.
func noticeShown(text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll('#messages .notice span')).some(e => e.textContent === %s)`, jsString(text))
}

// messageShown is a condition: a chat message from sender with this text.
func messageShown(sender, text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll('#messages .msg')).some(m =>
		m.querySelector('.text').textContent === %s && m.querySelector('.sender').textContent.replace(' (you)', '') === %s)`,
		jsString(text), jsString(sender))
}

func TestBrowserChatBetweenTwoUsers(t *testing.T) {
	st := startStack(t, false)
	outDir := testOutputDir(t)

	ctxA := startBrowser(t, 1000, 760).ctx     // the first tab, which owns the browser
	ctxB, cancelB := chromedp.NewContext(ctxA) // a second tab of the same browser
	defer cancelB()
	if err := chromedp.Do(ctxB, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("opening a second tab: %v", err)
	}

	var mu sync.Mutex
	var dialogs []string
	for _, tab := range []context.Context{ctxA, ctxB} {
		events := chromedp.Events(tab, page.JavascriptDialogOpening)
		go func() {
			for ev, err := range events {
				if err != nil {
					return
				}
				mu.Lock()
				dialogs = append(dialogs, ev.Message)
				mu.Unlock()
				_, _ = chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}
		}()
	}
	alice := &browserPage{t: t, name: "alice's page", ctx: ctxA}
	bob := &browserPage{t: t, name: "bob's page", ctx: ctxB}

	for _, p := range []*browserPage{alice, bob} {
		user := strings.TrimSuffix(p.name, "'s page")
		p.do(
			chromedp.Navigate(st.chat.URL+"/"),
			chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), user),
		)
		if p == alice {
			p.screenshot(outDir, "join.png")
		}
		p.do(chromedp.Click(chromedp.ID("join")))
		p.waitFor("the connected state", `document.querySelector('#status').dataset.state === 'connected'`)
		p.waitFor("the own join notice", noticeShown(user+" joined"))
	}
	alice.waitFor("bob's join notice", noticeShown("bob joined"))

	bob.send("Hi Alice! Ça va ?")
	alice.send("Hello Bob, welcome to ChatHub.")
	for _, p := range []*browserPage{alice, bob} {
		p.waitFor("bob's message", messageShown("bob", "Hi Alice! Ça va ?"))
		p.waitFor("alice's message", messageShown("alice", "Hello Bob, welcome to ChatHub."))
	}

	const xss = `<img src=x onerror=alert(1)>`
	alice.send(xss)
	bob.waitFor("the markup message shown as text", messageShown("alice", xss))
	alice.waitFor("the markup message shown as text", messageShown("alice", xss))
	// One more round trip gives any injected handler time to have run.
	bob.send("That was just text.")
	alice.waitFor("bob's reply", messageShown("bob", "That was just text."))

	for _, p := range []*browserPage{alice, bob} {
		if imgs := evalAs[int](p, `document.querySelectorAll('#messages img').length`); imgs != 0 {
			t.Errorf("%s: %d <img> elements in the message list, want none", p.name, imgs)
		}
	}
	ownExpr := `Array.from(document.querySelectorAll('#messages .msg.own .text')).some(e => e.textContent === ` + jsString(xss) + `)`
	if own, other := evalAs[bool](alice, ownExpr), evalAs[bool](bob, ownExpr); !own || other {
		t.Errorf("own messages are not told apart: on alice's page own=%v, on bob's page own=%v", own, other)
	}

	// A message over the limit: the counter warns and Send is disabled (the
	// server's refusal has its own test in TestBrowserUI).
	evalAs[bool](alice, `(() => { const m = document.querySelector('#message');
		m.value = 'x'.repeat(4001); m.dispatchEvent(new Event('input')); return true; })()`)
	counter := evalAs[string](alice, `document.querySelector('#counter').className + ' ' + document.querySelector('#counter').textContent`)
	if !strings.Contains(counter, "over") || !strings.Contains(counter, "4001 / 4000") {
		t.Errorf("counter %q, want it to show 4001 / 4000 as over the limit", counter)
	}
	if !evalAs[bool](alice, `document.querySelector('#send').disabled`) {
		t.Error("Send is enabled for a message over the limit")
	}

	mu.Lock()
	fired := append([]string(nil), dialogs...)
	mu.Unlock()
	if len(fired) != 0 {
		t.Errorf("JavaScript dialogs opened: %q; user text must never run", fired)
	}

	alice.screenshot(outDir, "chat-alice.png")
	bob.screenshot(outDir, "chat-bob.png")

	// The service drops bob's connection: his page says so, negotiates
	// again and is back in the chat (his second join notice).
	if err := st.server.creds.current().client.CloseUserConnections(t.Context(), "bob", nil); err != nil {
		t.Fatalf("closing bob's connection: %v", err)
	}
	bob.waitFor("the lost connection notice", `Array.from(document.querySelectorAll('#messages .notice.error span')).some(e => e.textContent === 'Connection lost')`)
	bob.waitFor("the automatic reconnect", `document.querySelector('#status').dataset.state === 'connected' &&
		Array.from(document.querySelectorAll('#messages .notice span')).filter(e => e.textContent === 'bob joined').length === 2`)
	alice.waitFor("bob's return", `Array.from(document.querySelectorAll('#messages .notice span')).filter(e => e.textContent === 'bob joined').length === 2`)
	bob.send("I'm back.")
	alice.waitFor("bob's message after the reconnect", messageShown("bob", "I'm back."))
	bob.screenshot(outDir, "chat-bob-reconnected.png")
}
