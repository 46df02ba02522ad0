// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chathub/chathub/webpubsub"
)

// maxValidationEntries bounds the validation cache; expired entries are pruned beyond it.
const maxValidationEntries = 10000

// validator runs the CloudEvents abuse-protection handshake (OPTIONS with
// WebHook-Request-Origin, answered by 2xx and WebHook-Allowed-Origin) once per handler URL and
// caches the outcome: a success for ValidationTTL, a failure for a back-off that doubles from
// MinBackoff to MaxBackoff. Concurrent events for one URL wait for a single handshake.
type validator struct {
	d       *Dispatcher
	mu      sync.Mutex
	entries map[string]*validation
}

type validation struct {
	ok       bool
	until    time.Time
	backoff  time.Duration
	err      error
	inflight chan struct{}
}

func newValidator(d *Dispatcher) *validator {
	return &validator{d: d, entries: map[string]*validation{}}
}

// ValidationError reports a handler URL that failed abuse-protection validation.
type ValidationError struct {
	// URL is the handler URL that was probed, without its query (which may hold a key).
	URL string
	// Reason says why the validation failed.
	Reason string
}

// Error names the URL and the reason.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("abuse protection validation of %s failed: %s", e.URL, e.Reason)
}

// check returns nil when the handler at rawURL (the URL template expanded with event
// "validate") has passed validation recently, and validates it otherwise.
func (v *validator) check(ctx context.Context, rawURL string) error {
	for {
		v.mu.Lock()
		e := v.entries[rawURL]
		if e == nil {
			v.pruneLocked()
			e = &validation{}
			v.entries[rawURL] = e
		}
		if ch := e.inflight; ch != nil {
			v.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !e.until.IsZero() && v.d.now().Before(e.until) {
			err := e.err
			v.mu.Unlock()
			return err
		}
		ch := make(chan struct{})
		e.inflight = ch
		v.mu.Unlock()

		err := v.probe(ctx, rawURL)

		v.mu.Lock()
		e.inflight = nil
		close(ch)
		now := v.d.now()
		if err == nil {
			e.ok, e.err, e.backoff = true, nil, 0
			e.until = now.Add(v.d.cfg.ValidationTTL)
		} else {
			e.backoff = min(max(2*e.backoff, v.d.cfg.MinBackoff), v.d.cfg.MaxBackoff)
			e.ok, e.err = false, err
			e.until = now.Add(e.backoff)
		}
		v.mu.Unlock()
		return err
	}
}

// pruneLocked drops expired entries when the cache is full.
func (v *validator) pruneLocked() {
	if len(v.entries) < maxValidationEntries {
		return
	}
	now := v.d.now()
	for k, e := range v.entries {
		if e.inflight == nil && now.After(e.until) {
			delete(v.entries, k)
		}
	}
}

// probe sends the OPTIONS request. It does not end with the caller: a client that goes away
// must not record a failure for everyone else.
func (v *validator) probe(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		// The parse error quotes the whole URL, query (a key) included: keep only its reason.
		return &ValidationError{URL: "(invalid URL)", Reason: unwrapURLError(err).Error()}
	}
	shown := redactURL(u)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.d.cfg.ValidationTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, rawURL, nil)
	if err != nil {
		return &ValidationError{URL: shown, Reason: unwrapURLError(err).Error()}
	}
	req.Header[webpubsub.HeaderRequestOrigin] = []string{v.d.cfg.Origin}
	req.Header[webpubsub.HeaderAWPSVersion] = []string{awpsVersion}
	start := time.Now()
	res, err := v.d.client.Do(req)
	if err != nil {
		v.d.observe(kindValidate, outcomeError, start)
		v.d.log.Warn("Abuse protection validation failed", "url", shown, "error", unwrapURLError(err))
		return &ValidationError{URL: shown, Reason: unwrapURLError(err).Error()}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		v.d.observe(kindValidate, outcomeRejected, start)
		v.d.log.Warn("Abuse protection validation failed", "url", shown, "status", res.StatusCode)
		return &ValidationError{URL: shown, Reason: fmt.Sprintf("the handler answered OPTIONS with status %d, not 2xx", res.StatusCode)}
	}
	if !originAllowed(res.Header.Values(webpubsub.HeaderAllowedOrigin), v.d.cfg.Origin) {
		v.d.observe(kindValidate, outcomeRejected, start)
		v.d.log.Warn("Abuse protection validation failed", "url", shown, "reason", "origin not allowed")
		return &ValidationError{URL: shown, Reason: fmt.Sprintf("the answer's %s header does not allow %q", webpubsub.HeaderAllowedOrigin, v.d.cfg.Origin)}
	}
	v.d.observe(kindValidate, outcomeSuccess, start)
	return nil
}

// originAllowed reports whether the WebHook-Allowed-Origin values allow origin: "*" or the
// origin host itself (case-insensitive; comma-separated lists accepted). A port on an entry is
// ignored: the JS handler answers with the host:port of its allowedEndpoints.
func originAllowed(values []string, origin string) bool {
	for _, v := range values {
		for o := range strings.SplitSeq(v, ",") {
			o = strings.TrimSpace(o)
			if o == "*" || strings.EqualFold(o, origin) {
				return true
			}
			if host, _, err := net.SplitHostPort(o); err == nil && strings.EqualFold(host, origin) {
				return true
			}
		}
	}
	return false
}
