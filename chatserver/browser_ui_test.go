// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/chathub/chathub/internal/chromiumtest"
	"github.com/chathub/chathub/webpubsub"
)

// uiBrowser is one headless Chromium whose tabs each live in their own
// browser context (no shared storage, like two people's browsers).
type uiBrowser struct {
	t   *testing.T
	ctx context.Context // the first tab; it owns the browser
}

// startBrowser starts Chromium with a window of width×height pixels.
func startBrowser(t *testing.T, width, height int) *uiBrowser {
	t.Helper()
	ctx := chromiumtest.Start(t, t.TempDir(),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(width, height),
	)
	return &uiBrowser{t: t, ctx: ctx}
}

// tab opens a tab in a new browser context.
func (b *uiBrowser) tab(t *testing.T, name string) *browserPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &browserPage{t: t, name: name, ctx: ctx}
	p.do(chromedp.Navigate("about:blank"))
	return p
}

// joinChat opens the chat at chatURL and joins as user.
func (p *browserPage) joinChat(chatURL, user string) {
	p.t.Helper()
	p.do(
		chromedp.Navigate(chatURL+"/"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), user),
		chromedp.Click(chromedp.ID("join")),
	)
	p.waitFor("the connected state", `document.querySelector('#status').dataset.state === 'connected'`)
	p.waitFor("the own join notice", noticeShown(user+" joined"))
}

// setDraft puts text into the composer as typing would.
func (p *browserPage) setDraft(text string) {
	p.t.Helper()
	evalAs[bool](p, `(() => { const m = document.querySelector('#message');
		m.value = `+jsString(text)+`; m.dispatchEvent(new Event('input')); return true; })()`)
}

// afterFrames evaluates a boolean expression after two animation frames,
// when the page has laid out and run its resize observers.
func afterFrames(p *browserPage, expr string) bool {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`new Promise(r =>
		requestAnimationFrame(() => requestAnimationFrame(() => r(`+expr+`))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluating %s: %v", p.name, expr, err)
	}
	return v
}

// broadcast sends a chat message to every page through the service's REST
// API, as the chat server does.
func broadcast(t *testing.T, st *stack, v any) {
	t.Helper()
	content, err := webpubsub.JSONContent(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.server.creds.current().client.SendToAll(t.Context(), content, nil); err != nil {
		t.Fatalf("broadcasting: %v", err)
	}
}

// TestBrowserUI checks the chat page's behaviour in Chromium: each subtest
// uses its own tabs (browser contexts) on one chat stack.
func TestBrowserUI(t *testing.T) {
	st := startStack(t, false)
	b := startBrowser(t, 1000, 760)
	outDir := testOutputDir(t)

	t.Run("a refused message stays in the composer with the reason", func(t *testing.T) {
		p := b.tab(t, "rita's page")
		p.joinChat(st.chat.URL, "rita")
		// A page served before the limit was lowered knows a higher one, so
		// the server is the one to refuse the message.
		evalAs[bool](p, fmt.Sprintf(`document.querySelector('#composer').setAttribute('data-max-chars', '%d') === undefined`, MaxMessageChars+100))
		draft := strings.Repeat("x", MaxMessageChars+1)
		p.setDraft(draft)
		p.do(chromedp.Click(chromedp.ID("send")))
		p.waitFor("the refusal", `Array.from(document.querySelectorAll('#messages .notice.error span')).some(e => e.textContent.includes('limit is 4,000'))`)
		if got := evalAs[string](p, `document.querySelector('#message').value`); got != draft {
			t.Errorf("after the refusal the composer holds %d characters, want the %d of the draft", len([]rune(got)), len([]rune(draft)))
		}
		why := evalAs[string](p, `(() => { const e = document.querySelector('#composer-error');
			return e && !e.hidden && e.getClientRects().length > 0 ? e.textContent : ''; })()`)
		if want := "Message not sent: it is 4,001 characters long and the limit is 4,000."; why != want {
			t.Errorf("the composer shows %q as the reason, want %q", why, want)
		}
		p.screenshot(outDir, "refused.png")

		// Shortened, the same draft is accepted: the composer empties and
		// the reason goes away.
		p.setDraft("short enough now")
		p.do(chromedp.Click(chromedp.ID("send")))
		p.waitFor("the accepted message", messageShown("rita", "short enough now"))
		if got := evalAs[string](p, `document.querySelector('#message').value`); got != "" {
			t.Errorf("after the accepted message the composer holds %q", got)
		}
		if evalAs[bool](p, `document.querySelector('#composer-error').hidden`) != true {
			t.Error("the reason of the earlier refusal is still shown")
		}

		// Text typed before the refusal comes back stays, after the
		// returned draft. (The page runs nothing else while this script
		// runs, so the refusal is handled after the typing.)
		evalAs[bool](p, `(() => { const m = document.querySelector('#message');
			m.value = `+jsString(draft)+`; m.dispatchEvent(new Event('input'));
			document.querySelector('#send').click();
			if (m.value !== '') { return false; }
			m.value = 'typed meanwhile'; m.dispatchEvent(new Event('input')); return true; })()`)
		p.waitFor("the second refusal", `document.querySelectorAll('#messages .notice.error').length === 2`)
		if got, want := evalAs[string](p, `document.querySelector('#message').value`), draft+"\ntyped meanwhile"; got != want {
			t.Errorf("after a refusal with newer text typed the composer holds %d characters ending in %q, want the draft, a new line and the newer text",
				len([]rune(got)), got[max(0, len(got)-30):])
		}
	})

	t.Run("Send is disabled over the server's limit and a counter shows near it", func(t *testing.T) {
		p := b.tab(t, "sara's page")
		p.joinChat(st.chat.URL, "sara")
		if got := evalAs[string](p, `document.querySelector('#composer').dataset.maxChars`); got != fmt.Sprint(MaxMessageChars) {
			t.Fatalf("the page's limit is %s, the server's %d", got, MaxMessageChars)
		}
		state := func() (disabled, counterShown bool, counter string) {
			t.Helper()
			disabled = evalAs[bool](p, `document.querySelector('#send').disabled`)
			counterShown = evalAs[bool](p, `(() => { const c = document.querySelector('#counter'); return !c.hidden && c.getClientRects().length > 0; })()`)
			return disabled, counterShown, evalAs[string](p, `document.querySelector('#counter').textContent`)
		}
		p.setDraft("hi")
		if disabled, shown, _ := state(); disabled || shown {
			t.Errorf("a short message: Send disabled=%v, counter shown=%v; want Send enabled and no counter", disabled, shown)
		}
		// Code points, as the server counts: each emoji is two UTF-16 units.
		p.setDraft(strings.Repeat("😀", MaxMessageChars))
		if disabled, shown, counter := state(); disabled || !shown || counter != fmt.Sprintf("%d / %d", MaxMessageChars, MaxMessageChars) {
			t.Errorf("a message at the limit: Send disabled=%v, counter shown=%v %q; want Send enabled and the counter at %d / %d",
				disabled, shown, counter, MaxMessageChars, MaxMessageChars)
		}
		p.setDraft(strings.Repeat("😀", MaxMessageChars+1))
		if disabled, shown, counter := state(); !disabled || !shown || !strings.HasPrefix(counter, fmt.Sprintf("%d / %d", MaxMessageChars+1, MaxMessageChars)) ||
			!strings.Contains(counter, "1 too many") {
			t.Errorf("a message over the limit: Send disabled=%v, counter shown=%v %q; want Send disabled and the counter saying 1 too many",
				disabled, shown, counter)
		}
		// Enter does not send it either: the next message is the only one
		// the server answers.
		p.do(chromedp.Focus(chromedp.ID("message")), pressEnter())
		p.setDraft("the only message")
		p.do(chromedp.Focus(chromedp.ID("message")), pressEnter())
		p.waitFor("the short message", messageShown("sara", "the only message"))
		if n := evalAs[int](p, `document.querySelectorAll('#messages .notice.error').length`); n != 0 {
			t.Errorf("%d refusals shown: the over-long message was sent", n)
		}
	})

	t.Run("(you) marks only this tab's messages, not a namesake's", func(t *testing.T) {
		one, two := b.tab(t, "sam's first page"), b.tab(t, "sam's second page")
		one.joinChat(st.chat.URL, "sam")
		two.joinChat(st.chat.URL, "sam")
		one.send("from the first tab")
		two.send("from the second tab")
		own := func(p *browserPage, text string) (isOwn bool, sender string) {
			t.Helper()
			p.waitFor("the message "+text, messageShown("sam", text))
			sel := fmt.Sprintf(`Array.from(document.querySelectorAll('#messages .msg')).find(m => m.querySelector('.text').textContent === %s)`, jsString(text))
			return evalAs[bool](p, sel+`.classList.contains('own')`), evalAs[string](p, sel+`.querySelector('.sender').textContent`)
		}
		for _, tc := range []struct {
			p        *browserPage
			text     string
			wantOwn  bool
			wantName string
		}{
			{one, "from the first tab", true, "sam (you)"},
			{one, "from the second tab", false, "sam"},
			{two, "from the first tab", false, "sam"},
			{two, "from the second tab", true, "sam (you)"},
		} {
			if isOwn, sender := own(tc.p, tc.text); isOwn != tc.wantOwn || sender != tc.wantName {
				t.Errorf("%s: %q shown as own=%v from %q, want own=%v from %q", tc.p.name, tc.text, isOwn, sender, tc.wantOwn, tc.wantName)
			}
		}
		one.screenshot(outDir, "namesakes.png")
	})

	t.Run("every text reaches 4.5:1 contrast in both themes", func(t *testing.T) {
		for _, scheme := range []string{"light", "dark"} {
			p := b.tab(t, scheme+" page")
			p.do(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
				return err
			}))
			p.do(chromedp.Navigate(st.chat.URL+"/"), chromedp.WaitVisible(chromedp.ID("name")))
			if got := evalAs[bool](p, `matchMedia('(prefers-color-scheme: dark)').matches`); got != (scheme == "dark") {
				t.Fatalf("%s: the page sees a dark scheme: %v", p.name, got)
			}
			// The join form, with its error.
			p.do(chromedp.Click(chromedp.ID("join")))
			p.waitFor("the name error", `document.querySelector('#join-error').textContent !== ''`)
			checkContrast(t, p, "the join form", "body")
			for _, state := range []string{"offline", "connecting", "reconnecting", "connected"} {
				// The pill's colours come from its data-state alone.
				evalAs[bool](p, `document.querySelector('#status').setAttribute('data-state', `+jsString(state)+`) === undefined`)
				checkContrast(t, p, "the status pill "+state, "#status")
			}

			user := scheme + "-tester"
			p.joinChat(st.chat.URL, user)
			p.send("my own message")
			broadcast(t, st, ChatMessage{From: "zoe", Message: "someone else's message", Time: "2026-11-30T12:00:00.000Z"})
			broadcast(t, st, Refusal{Type: "error", Code: "unavailable", Message: "an error notice"})
			p.waitFor("zoe's message", messageShown("zoe", "someone else's message"))
			p.waitFor("the error notice", `Array.from(document.querySelectorAll('#messages .notice.error span')).some(e => e.textContent === 'an error notice')`)
			// Avatars of every colour the stylesheet defines.
			n := evalAs[int](p, `(() => {
				const ids = new Set();
				for (const sheet of document.styleSheets) for (const r of sheet.cssRules) {
					for (const m of (r.selectorText || '').matchAll(/\.avatar-(\d+)/g)) ids.add(m[1]);
				}
				const list = document.querySelector('#messages');
				for (const id of ids) {
					const li = document.createElement('li'); li.className = 'msg';
					const a = document.createElement('span'); a.className = 'avatar avatar-' + id; a.textContent = 'W';
					li.appendChild(a); list.appendChild(li);
				}
				return ids.size; })()`)
			if n < 2 {
				t.Errorf("%s: the stylesheet defines %d avatar colours", p.name, n)
			}
			p.setDraft(strings.Repeat("y", MaxMessageChars+1)) // the counter over the limit
			if !evalAs[bool](p, `(() => { const e = document.querySelector('#composer-error');
				if (e) { e.textContent = 'a composer error'; e.hidden = false; } return !!e; })()`) {
				t.Errorf("%s: the composer has no place for errors", p.name)
			}
			checkContrast(t, p, "the chat", "body")
			p.screenshot(outDir, "contrast-"+scheme+".png")

		}
	})

	t.Run("the signed-in name is shown whole on a 390 px phone", func(t *testing.T) {
		for _, name := range []string{"Maximilian Alexander", strings.Repeat("Wolfgang", 8)} {
			p := b.tab(t, "a phone")
			p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait))
			p.joinChat(st.chat.URL, name)
			if got, want := evalAs[string](p, `document.querySelector('#me').textContent`), "Signed in as "+name; got != want {
				t.Errorf("the header says %q, want %q", got, want)
			}
			problems := evalAs[[]string](p, `(() => {
				const out = [];
				const vw = document.documentElement.clientWidth;
				if (document.documentElement.scrollWidth > vw) out.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + vw);
				for (const sel of ['#me', '#status', '#leave']) {
					const e = document.querySelector(sel), r = e.getBoundingClientRect();
					if (e.scrollWidth > e.clientWidth) out.push(sel + ' is cut: scrollWidth ' + e.scrollWidth + ' > clientWidth ' + e.clientWidth);
					if (r.left < 0 || r.right > vw || r.width === 0) out.push(sel + ' is outside the screen: ' + r.left + '..' + r.right + ' of ' + vw);
				}
				return out; })()`)
			for _, pr := range problems {
				t.Errorf("signed in as %q: %s", name, pr)
			}
			p.screenshot(outDir, fmt.Sprintf("phone-%d.png", len(name)))
		}
	})

	t.Run("the list stays on the newest message when the window is resized", func(t *testing.T) {
		p := b.tab(t, "rob's page")
		p.joinChat(st.chat.URL, "rob")
		const n = 40
		for i := range n {
			broadcast(t, st, ChatMessage{From: "zoe", Message: fmt.Sprintf("message %d of a conversation long enough to wrap on a narrow screen", i)})
		}
		p.waitFor("the last message", messageShown("zoe", fmt.Sprintf("message %d of a conversation long enough to wrap on a narrow screen", n-1)))
		const atBottom = `(() => { const l = document.querySelector('#messages');
			return l.scrollHeight > l.clientHeight && Math.abs(l.scrollTop + l.clientHeight - l.scrollHeight) <= 2; })()`
		if !afterFrames(p, atBottom) {
			t.Fatalf("the list is not at its newest message after the messages came in")
		}
		for _, size := range [][2]int64{{1000, 420}, {390, 844}, {390, 500}, {1000, 760}} {
			p.do(chromedp.EmulateViewport(size[0], size[1]))
			if !afterFrames(p, atBottom) {
				pos := evalAs[string](p, `(() => { const l = document.querySelector('#messages'); return l.scrollTop + ' + ' + l.clientHeight + ' of ' + l.scrollHeight; })()`)
				t.Errorf("after resizing to %dx%d the list is not at the newest message: %s", size[0], size[1], pos)
			}
		}
		// A reader who scrolled up stays where they are.
		evalAs[bool](p, `(document.querySelector('#messages').scrollTop = 0) === 0`)
		if !afterFrames(p, `document.querySelector('#messages').scrollTop === 0`) {
			t.Fatal("could not scroll the list up")
		}
		p.do(chromedp.EmulateViewport(1000, 500))
		if !afterFrames(p, `document.querySelector('#messages').scrollTop === 0`) {
			t.Errorf("a resize moved a list the reader had scrolled up")
		}
	})

	t.Run("the page has an icon", func(t *testing.T) {
		p := b.tab(t, "a page")
		p.do(chromedp.Navigate(st.chat.URL+"/"), chromedp.WaitVisible(chromedp.ID("name")))
		got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(async () => {
			const link = document.querySelector('link[rel~="icon"]');
			if (!link) { return 'no icon link'; }
			const res = await fetch(link.href);
			const width = await new Promise(r => { const i = new Image(); i.onload = () => r(i.naturalWidth); i.onerror = () => r(0); i.src = link.href; });
			return res.status + ' ' + res.headers.get('content-type') + ' ' + (width > 0 ? 'drawn' : 'not drawn');
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if want := "200 image/svg+xml drawn"; got != want {
			t.Errorf("the icon: %s, want %s", got, want)
		}
	})
}

// checkContrast measures every visible text under the element root selects
// (text nodes, field values and placeholders) against the colour behind it, from Chromium's
// computed styles, and reports those under WCAG AA's 4.5:1. Disabled
// controls are exempt, as WCAG says.
func checkContrast(t *testing.T, p *browserPage, what, root string) {
	t.Helper()
	res, err := chromedp.Run(p.ctx, chromedp.Evaluate[contrastResult]("("+contrastScript+")(document.querySelector("+jsString(root)+"))"))
	if err != nil {
		t.Fatalf("%s: measuring contrast: %v", p.name, err)
	}
	if res.Checked == 0 {
		t.Errorf("%s, %s: no text measured", p.name, what)
	}
	t.Logf("%s, %s: %d texts measured, the lowest at %.2f:1", p.name, what, res.Checked, res.Lowest)
	for _, u := range res.Unknown {
		t.Errorf("%s, %s: no solid colour behind %q", p.name, what, u)
	}
	for _, f := range res.Low {
		t.Errorf("%s, %s: %q is %s on %s: %.2f:1, want at least 4.5:1", p.name, what, f.Text, f.Fg, f.Bg, f.Ratio)
	}
}

// contrastResult is what contrastScript returns.
type contrastResult struct {
	Checked int     `json:"checked"` // texts measured
	Lowest  float64 `json:"lowest"`  // the lowest ratio measured
	Low     []struct {
		Text  string  `json:"text"`
		Fg    string  `json:"fg"` // the text colour as shown (#rrggbb)
		Bg    string  `json:"bg"`
		Ratio float64 `json:"ratio"`
	} `json:"low"` // texts under 4.5:1
	Unknown []string `json:"unknown"` // texts over a background image
}

// contrastScript is checkContrast's measurement, a function of the root
// element. Colours are parsed by
// drawing them on a canvas, so any CSS colour syntax works; the background
// is every ancestor's background colour composited, and opacity fades the
// text towards it. The ratio is WCAG's: (L1 + 0.05) / (L2 + 0.05) with the
// relative luminance of linearised sRGB.
const contrastScript = `(root => {
	const ctx = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
	const rgba = c => {
		ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = '#000'; ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
		const d = ctx.getImageData(0, 0, 1, 1).data;
		return [d[0], d[1], d[2], d[3] / 255];
	};
	const over = (top, below) => [0, 1, 2].map(i => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
	const lum = c => {
		const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
		return 0.2126 * r + 0.7152 * g + 0.0722 * b;
	};
	const hex = c => '#' + c.slice(0, 3).map(v => Math.round(v).toString(16).padStart(2, '0')).join('');
	// background composites the backgrounds from the canvas (the root's
	// colour) up to e; null when a background image is in the way.
	const background = e => {
		const chain = [];
		for (let n = e; n; n = n.parentElement) chain.push(n);
		let bg = rgba(getComputedStyle(document.documentElement).backgroundColor);
		if (bg[3] < 1) bg = over(bg, [255, 255, 255, 1]);
		for (const n of chain.reverse()) {
			const cs = getComputedStyle(n);
			if (cs.backgroundImage !== 'none') return null;
			bg = over(rgba(cs.backgroundColor), bg);
		}
		return bg;
	};
	const opacity = e => { let o = 1; for (let n = e; n; n = n.parentElement) o *= parseFloat(getComputedStyle(n).opacity); return o; };
	const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility === 'visible';
	const out = { checked: 0, lowest: 21, low: [], unknown: [] };
	const measure = (e, text, color) => {
		if (!shown(e) || e.closest(':disabled')) return;
		const bg = background(e);
		if (!bg) { out.unknown.push(text); return; }
		const fg0 = rgba(color);
		const fg = over([fg0[0], fg0[1], fg0[2], fg0[3] * opacity(e)], bg);
		const l1 = lum(fg), l2 = lum(bg);
		const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
		out.checked++;
		out.lowest = Math.min(out.lowest, ratio);
		if (ratio < 4.5) out.low.push({ text: text.slice(0, 40), fg: hex(fg), bg: hex(bg), ratio });
	};
	const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		if (n.textContent.trim() && n.parentElement) measure(n.parentElement, n.textContent.trim(), getComputedStyle(n.parentElement).color);
	}
	for (const f of root.querySelectorAll('input, textarea')) {
		if (f.value) measure(f, f.value, getComputedStyle(f).color);
		if (f.placeholder) measure(f, f.placeholder, getComputedStyle(f, '::placeholder').color);
	}
	return out;
})`
