// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ConnectionString is a parsed Web PubSub connection string
// ("Endpoint=https://x.webpubsub.azure.com;AccessKey=...;Version=1.0;").
type ConnectionString struct {
	// Endpoint is scheme + host[:port] with Port applied, no trailing slash and no path.
	Endpoint *url.URL
	// AccessKey signs tokens. String never prints it; Format does.
	AccessKey string
	// Version is the connection string version ("1.0"); the SDKs ignore it.
	Version string
}

// ParseConnectionString parses s. Keys are case-insensitive; Endpoint and AccessKey are
// required; Port, when present, overrides the endpoint's port; an Endpoint without a scheme
// gets https://. Unknown keys are ignored. Errors never contain the access key.
func ParseConnectionString(s string) (*ConnectionString, error) {
	fields := map[string]string{}
	for i, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			// The part is not echoed: it could be a mangled key.
			return nil, fmt.Errorf("connection string: part %d has no '='", i+1)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			return nil, fmt.Errorf("connection string: part %d has an empty key", i+1)
		}
		if _, dup := fields[k]; dup {
			return nil, fmt.Errorf("connection string: key %q appears more than once", safeKeyName(k))
		}
		fields[k] = strings.TrimSpace(v)
	}

	key := fields["accesskey"]
	if key == "" {
		return nil, errors.New("connection string: AccessKey is missing or empty")
	}
	ep, err := parseEndpoint(fields["endpoint"])
	if err != nil {
		return nil, err
	}
	if p, ok := fields["port"]; ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("connection string: Port %q is not a number in 1..65535", truncate(p, 16))
		}
		ep.Host = joinHostPort(ep.Hostname(), p)
	}
	return &ConnectionString{Endpoint: ep, AccessKey: key, Version: fields["version"]}, nil
}

// parseEndpoint parses the Endpoint value into scheme://host[:port].
func parseEndpoint(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("connection string: Endpoint is missing or empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("connection string: Endpoint %q is not a URL", truncate(raw, 256))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("connection string: Endpoint scheme %q is not http or https", truncate(u.Scheme, 16))
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("connection string: Endpoint has no host")
	}
	if u.User != nil {
		return nil, errors.New("connection string: Endpoint must not contain user info")
	}
	if p := strings.TrimRight(u.Path, "/"); p != "" {
		return nil, fmt.Errorf("connection string: Endpoint must not have a path, got %q", truncate(u.Path, 256))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("connection string: Endpoint must not have a query or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("connection string: Endpoint port %q is not in 1..65535", truncate(p, 16))
		}
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// joinHostPort joins host and port, bracketing IPv6 literals.
func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// safeKeyName returns k for known keys and a placeholder for others, so that an error never
// echoes text that might be secret.
func safeKeyName(k string) string {
	switch k {
	case "endpoint", "accesskey", "port", "version", "clientendpoint":
		return k
	}
	return "(unknown key)"
}

// truncate bounds s to about n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Format returns the connection string "Endpoint=...;AccessKey=...;Version=1.0;". It
// contains the access key: never log it.
func (c *ConnectionString) Format() string {
	return c.format(c.AccessKey)
}

// String returns the connection string with the access key redacted (AccessKey=***).
func (c *ConnectionString) String() string {
	return c.format("***")
}

func (c *ConnectionString) format(key string) string {
	v := c.Version
	if v == "" {
		v = "1.0"
	}
	ep := ""
	if c.Endpoint != nil {
		ep = c.Endpoint.String()
	}
	return "Endpoint=" + ep + ";AccessKey=" + key + ";Version=" + v + ";"
}
