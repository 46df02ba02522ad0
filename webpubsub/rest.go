// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds one REST request when ClientOptions.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// sharedHTTPClient is the pooled client every Client without its own HTTPClient uses.
// Timeouts come from each request's context, not from the client.
var sharedHTTPClient = &http.Client{Transport: newTransport()}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// ClientOptions configures a Client.
type ClientOptions struct {
	// HTTPClient sends the requests; nil means one shared pooled client.
	HTTPClient *http.Client
	// APIVersion is the api-version query value; "" means DefaultAPIVersion.
	APIVersion string
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Client calls the Web PubSub data-plane REST API for one hub, signing each request with an
// access-key JWT whose audience is the request URL (signed anew when the last one for that
// URL is a minute old). It is safe for concurrent use.
type Client struct {
	endpoint   *url.URL
	accessKey  string
	hub        string
	httpClient *http.Client
	apiVersion string
	timeout    time.Duration
	now        func() time.Time
	tokens     tokenCache
}

// tokenReuse is how long a signed service token is reused for further requests to the same
// URL (its audience): well within its DefaultTokenTTL lifetime, and it spares the signing
// (and its allocations) on every broadcast of a busy chat.
const tokenReuse = time.Minute

// maxCachedTokens bounds the tokens a Client keeps: requests name users, groups and
// connections in their URLs, and each URL is an audience of its own.
const maxCachedTokens = 64

// tokenCache holds recently signed service tokens by audience.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	token  string
	signed time.Time
}

// serviceToken returns a service token for audience: one signed less than tokenReuse ago, or
// a new one.
func (c *Client) serviceToken(audience string) (string, error) {
	now := c.now()
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	if t, ok := c.tokens.m[audience]; ok {
		if age := now.Sub(t.signed); age >= 0 && age < tokenReuse {
			return t.token, nil
		}
	}
	tok, err := ServiceToken(c.accessKey, audience, DefaultTokenTTL, now)
	if err != nil {
		return "", err
	}
	if c.tokens.m == nil || len(c.tokens.m) >= maxCachedTokens {
		c.tokens.m = make(map[string]cachedToken)
	}
	c.tokens.m[audience] = cachedToken{token: tok, signed: now}
	return tok, nil
}

// NewClient returns a Client for hub on the service named by cs.
func NewClient(cs *ConnectionString, hub string, opts *ClientOptions) (*Client, error) {
	if cs == nil || cs.Endpoint == nil {
		return nil, errors.New("webpubsub client: connection string has no endpoint")
	}
	if cs.AccessKey == "" {
		return nil, errors.New("webpubsub client: connection string has no access key")
	}
	if s := cs.Endpoint.Scheme; s != "http" && s != "https" {
		return nil, fmt.Errorf("webpubsub client: endpoint scheme %q is not http or https", s)
	}
	if err := ValidateHubName(hub); err != nil {
		return nil, fmt.Errorf("webpubsub client: %w", err)
	}
	if opts == nil {
		opts = &ClientOptions{}
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("webpubsub client: timeout %s is negative", opts.Timeout)
	}
	c := &Client{
		endpoint:   &url.URL{Scheme: cs.Endpoint.Scheme, Host: cs.Endpoint.Host},
		accessKey:  cs.AccessKey,
		hub:        hub,
		httpClient: opts.HTTPClient,
		apiVersion: opts.APIVersion,
		timeout:    opts.Timeout,
		now:        time.Now,
	}
	if c.httpClient == nil {
		c.httpClient = sharedHTTPClient
	}
	if c.apiVersion == "" {
		c.apiVersion = DefaultAPIVersion
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// Hub returns the hub the client calls.
func (c *Client) Hub() string { return c.hub }

// Endpoint returns a copy of the service endpoint.
func (c *Client) Endpoint() *url.URL {
	u := *c.endpoint
	return &u
}

// ClientAccess signs a client access token for the client's hub with the client's key.
func (c *Client) ClientAccess(opts ClientTokenOptions) (ClientAccess, error) {
	return ClientAccessFor(c.endpoint, c.accessKey, c.hub, opts, c.now())
}

// apiRequest is one data-plane call.
type apiRequest struct {
	method      string
	segments    []string // path segments after the endpoint, unescaped; ":send" style kept literal
	query       url.Values
	contentType string
	body        []byte
	// ok lists the success statuses; a 404 is reported as found=false when notFoundOK.
	ok         []int
	notFoundOK bool
}

// hubSegments returns "api", "hubs", hub followed by rest.
func (c *Client) hubSegments(rest ...string) []string {
	return append([]string{"api", "hubs", c.hub}, rest...)
}

// buildURL returns the request URL: each segment path-escaped, plus api-version.
func (c *Client) buildURL(segments []string, query url.Values) (*url.URL, error) {
	var b strings.Builder
	b.WriteString(c.endpoint.String())
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("api-version", c.apiVersion)
	b.WriteByte('?')
	b.WriteString(q.Encode())
	return url.Parse(b.String())
}

// do sends r and returns the response body of a success. found is false when the service
// answered 404 and r.notFoundOK is set.
func (c *Client) do(ctx context.Context, r apiRequest) (body []byte, found bool, err error) {
	u, err := c.buildURL(r.segments, r.query)
	if err != nil {
		return nil, false, fmt.Errorf("webpubsub: building request URL: %w", err)
	}
	return c.send(ctx, r, u)
}

// send sends r to u with a bearer token whose aud is the full URL, as the SDKs do.
func (c *Client) send(ctx context.Context, r apiRequest, u *url.URL) ([]byte, bool, error) {
	if ctx == nil {
		return nil, false, errNilContext
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	full := u.String()
	tok, err := c.serviceToken(full)
	if err != nil {
		return nil, false, fmt.Errorf("webpubsub: %w", err)
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, full, body)
	if err != nil {
		return nil, false, fmt.Errorf("webpubsub: %s %s: %w", r.method, u.Path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	// A pooled keep-alive connection can be closed by the service (its idle timeout, or a
	// replica shutting down) just as a request goes out on it; the request then fails with EOF
	// although the service never read it. An Idempotency-Key entry with no value (not sent on
	// the wire) lets net/http send such a request again on a new connection, which it does
	// only when a reused connection failed before any answer came (see http.Transport).
	req.Header[idempotencyKey] = nil
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("webpubsub: %s %s: %w", r.method, u.Path, transportError(err))
	}
	defer resp.Body.Close()
	for _, s := range r.ok {
		if resp.StatusCode == s {
			b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
			if err != nil {
				return nil, false, fmt.Errorf("webpubsub: %s %s: reading response: %w", r.method, u.Path, err)
			}
			return b, true, nil
		}
	}
	if r.notFoundOK && resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil, false, nil
	}
	return nil, false, newResponseError(resp, tok, c.accessKey)
}

// idempotencyKey is the header through which net/http learns that a request may be
// replayed on a new connection after a pooled one failed before answering.
const idempotencyKey = "Idempotency-Key"

// errNilContext guards against a nil context, on which context.WithTimeout would panic.
var errNilContext = errors.New("webpubsub: nil context")

// maxResponseBody bounds a success response body (a page of group members, a token).
const maxResponseBody = 8 << 20

// transportError strips the URL (which carries the api-version and, for nextLink pages, a
// continuation token) from a *url.Error, keeping its cause.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
