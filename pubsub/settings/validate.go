// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package settings

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/chathub/chathub/webpubsub"
)

// System event names a handler can subscribe to.
const (
	EventConnect      = "connect"
	EventConnected    = "connected"
	EventDisconnected = "disconnected"
)

// Limits of the hub settings resource (ARM 2024-03-01).
const (
	minKeepAlive      = 1
	maxKeepAlive      = 120
	maxEventHandlers  = 100
	maxEventListeners = 10
	maxTemplateLen    = 2048
)

// Auth types of an event handler.
const (
	AuthNone            = "None"
	AuthManagedIdentity = "ManagedIdentity"
)

// eventNamePattern is the shape of a user event name in a userEventPattern.
var eventNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,128}$`)

// placeholderPattern finds {name} placeholders in a URL template.
var placeholderPattern = regexp.MustCompile(`\{[^{}]*\}`)

// Validate reports what is wrong with hs, or nil when the service can use it: every event
// handler has an absolute http(s) URL template whose {hub}/{event} placeholders sit in the path
// or query only, a userEventPattern of "*", a name or a comma-separated list of names, system
// events among connect/connected/disconnected and an auth type None or ManagedIdentity;
// anonymousConnectPolicy is allow or deny; webSocketKeepAliveIntervalInSeconds is 1..120.
func Validate(hs *webpubsub.HubSettings) error {
	if hs == nil {
		return errors.New("hub settings are missing")
	}
	p := &hs.Properties
	if len(p.EventHandlers) > maxEventHandlers {
		return fmt.Errorf("properties.eventHandlers has %d entries, the limit is %d", len(p.EventHandlers), maxEventHandlers)
	}
	for i := range p.EventHandlers {
		if err := validateHandler(&p.EventHandlers[i]); err != nil {
			return fmt.Errorf("properties.eventHandlers[%d]: %w", i, err)
		}
	}
	if len(p.EventListeners) > maxEventListeners {
		return fmt.Errorf("properties.eventListeners has %d entries, the limit is %d", len(p.EventListeners), maxEventListeners)
	}
	switch strings.ToLower(p.AnonymousConnectPolicy) {
	case "", "allow", "deny":
	default:
		return fmt.Errorf("properties.anonymousConnectPolicy is %q; it must be \"allow\" or \"deny\"", clip(p.AnonymousConnectPolicy))
	}
	if k := p.WebSocketKeepAliveIntervalInSeconds; k != nil && (*k < minKeepAlive || *k > maxKeepAlive) {
		return fmt.Errorf("properties.webSocketKeepAliveIntervalInSeconds is %d; it must be between %d and %d", *k, minKeepAlive, maxKeepAlive)
	}
	return nil
}

func validateHandler(h *webpubsub.EventHandlerSettings) error {
	if err := ValidateURLTemplate(h.URLTemplate); err != nil {
		return err
	}
	if err := validateUserEventPattern(h.UserEventPattern); err != nil {
		return err
	}
	for j, e := range h.SystemEvents {
		switch strings.ToLower(e) {
		case EventConnect, EventConnected, EventDisconnected:
		default:
			return fmt.Errorf("systemEvents[%d] is %q; system events are \"connect\", \"connected\" and \"disconnected\"", j, clip(e))
		}
	}
	if h.Auth != nil {
		switch {
		case h.Auth.Type == "" || strings.EqualFold(h.Auth.Type, AuthNone):
		case strings.EqualFold(h.Auth.Type, AuthManagedIdentity):
		default:
			return fmt.Errorf("auth.type is %q; it must be \"None\" or \"ManagedIdentity\"", clip(h.Auth.Type))
		}
	}
	return nil
}

// ValidateURLTemplate reports what is wrong with an event handler URL template: it must be an
// absolute http or https URL with a host, and its only placeholders, {hub} and {event}, may
// appear in the path or the query but never in the scheme or host.
func ValidateURLTemplate(tmpl string) error {
	switch {
	case tmpl == "":
		return errors.New("urlTemplate is empty")
	case len(tmpl) > maxTemplateLen:
		return fmt.Errorf("urlTemplate is %d characters long, the limit is %d", len(tmpl), maxTemplateLen)
	case strings.TrimSpace(tmpl) != tmpl:
		return errors.New("urlTemplate has leading or trailing whitespace")
	}
	for _, ph := range placeholderPattern.FindAllString(tmpl, -1) {
		if ph != "{hub}" && ph != "{event}" {
			return fmt.Errorf("urlTemplate has the placeholder %s; only {hub} and {event} are supported", clip(ph))
		}
	}
	scheme, rest, ok := strings.Cut(tmpl, "://")
	if !ok {
		return fmt.Errorf("urlTemplate %q is not an absolute URL; it must start with http:// or https://", clip(tmpl))
	}
	if s := strings.ToLower(scheme); s != "http" && s != "https" {
		return fmt.Errorf("urlTemplate scheme %q is not supported; it must be http or https", clip(scheme))
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.ContainsAny(authority, "{}") {
		return fmt.Errorf("urlTemplate %q has a placeholder in the host; {hub} and {event} may appear only in the path or query", clip(tmpl))
	}
	if _, frag, ok := strings.Cut(rest, "#"); ok && strings.ContainsAny(frag, "{}") {
		return fmt.Errorf("urlTemplate %q has a placeholder in the fragment; {hub} and {event} may appear only in the path or query", clip(tmpl))
	}
	u, err := url.Parse(ExpandTemplate(tmpl, "hub", "event"))
	if err != nil {
		return fmt.Errorf("urlTemplate %q is not a valid URL: %w", clip(tmpl), unwrapURLError(err))
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("urlTemplate %q has no host", clip(tmpl))
	}
	if u.User != nil {
		return fmt.Errorf("urlTemplate must not contain user info (user:password@)")
	}
	return nil
}

// ExpandTemplate replaces {hub} and {event} in tmpl with the URL-escaped hub and event names.
func ExpandTemplate(tmpl, hub, event string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	r := strings.NewReplacer("{hub}", url.PathEscape(hub), "{event}", url.PathEscape(event))
	return r.Replace(tmpl)
}

func validateUserEventPattern(p string) error {
	if p == "" || p == "*" {
		return nil
	}
	for i, name := range strings.Split(p, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			return fmt.Errorf("userEventPattern %q has an empty entry at position %d; use \"*\", a name or a comma-separated list of names", clip(p), i+1)
		case name == "*":
			return fmt.Errorf("userEventPattern %q mixes \"*\" with names; use \"*\" alone to match every event", clip(p))
		case !eventNamePattern.MatchString(name):
			return fmt.Errorf("userEventPattern entry %q is not an event name (letters, digits, '_', '.', '-', at most 128)", clip(name))
		}
	}
	return nil
}

// MatchUserEvent reports whether the userEventPattern p matches the event name (case-insensitive).
func MatchUserEvent(p, event string) bool {
	if p == "*" {
		return true
	}
	if p == "" {
		return false
	}
	for name := range strings.SplitSeq(p, ",") {
		if strings.EqualFold(strings.TrimSpace(name), event) {
			return true
		}
	}
	return false
}

// MatchSystemEvent reports whether the handler subscribes to the system event (case-insensitive).
func MatchSystemEvent(events []string, event string) bool {
	for _, e := range events {
		if strings.EqualFold(e, event) {
			return true
		}
	}
	return false
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// clip shortens user input quoted in an error message.
func clip(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
