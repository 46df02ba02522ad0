// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/chathub/chathub/webpubsub"
)

// stableError describes err for a condition message in words that are the
// same for the same failure: no request or correlation IDs, timestamps,
// addresses or ephemeral ports. A message that changed at every attempt
// would make every failed reconcile write status, which triggers the next
// reconcile at once and defeats the backoff.
//
// The result reads after a subject, e.g. "the service " + stableError(err):
// "did not answer (dial tcp: connection refused)", "answered HTTP 503
// Service Unavailable (ServiceUnavailable): down for maintenance".
func stableError(err error) string {
	if err == nil {
		return "succeeded"
	}
	var (
		re  *webpubsub.ResponseError
		op  *net.OpError
		dns *net.DNSError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "did not answer in time"
	case errors.Is(err, context.Canceled):
		return "did not answer before the reconcile was canceled"
	case errors.Is(err, webpubsub.ErrNoCredential):
		return "cannot be reached: " + webpubsub.ErrNoCredential.Error()
	case errors.As(err, &re):
		s := fmt.Sprintf("answered HTTP %d %s", re.StatusCode, http.StatusText(re.StatusCode))
		if re.ErrorCode != "" {
			s += " (" + scrub(re.ErrorCode) + ")"
		}
		if re.Message != "" {
			s += ": " + scrub(re.Message)
		}
		return s
	case errors.As(err, &dns):
		return fmt.Sprintf("did not answer (lookup %s: %s)", dns.Name, scrub(dns.Err))
	case errors.As(err, &op):
		return "did not answer (" + opErrorText(op) + ")"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "did not answer (" + scrub(ue.Err.Error()) + ")"
	}
	return "failed: " + scrub(err.Error())
}

// opErrorText is a net.OpError without its addresses: "dial tcp: connection
// refused".
func opErrorText(op *net.OpError) string {
	s := op.Op
	if op.Net != "" {
		s += " " + op.Net
	}
	inner := op.Err
	for {
		next := errors.Unwrap(inner)
		if next == nil {
			break
		}
		inner = next
	}
	if inner == nil {
		return s
	}
	return s + ": " + scrub(inner.Error())
}

var scrubbers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?`), "<time>"},
	{regexp.MustCompile(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<id>"},
	{regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}:\d{1,5}\b`), "<address>"},
	{regexp.MustCompile(`\[[0-9A-Fa-f:.]+\]:\d{1,5}`), "<address>"},
	{regexp.MustCompile(`(?i)\b[0-9a-f]{16,}\b`), "<id>"},
}

// scrub removes what varies between identical failures from s.
func scrub(s string) string {
	for _, sc := range scrubbers {
		s = sc.re.ReplaceAllString(s, sc.with)
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 512 {
		s = string(r[:512]) + "…"
	}
	return s
}
