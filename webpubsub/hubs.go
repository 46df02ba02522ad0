// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Polling defaults of the HubsClient.
const (
	// DefaultPollInterval is the wait between polls when the service gives no Retry-After.
	DefaultPollInterval = time.Second
	// minRetryAfter keeps a "Retry-After: 0" from turning polling into a busy loop.
	minRetryAfter = 100 * time.Millisecond
	// maxRetryAfter caps a Retry-After the service asks for.
	maxRetryAfter = time.Minute
	// defaultPollTimeout bounds polling when ctx has no deadline.
	defaultPollTimeout = 10 * time.Minute
	// HubsRequestTimeout bounds one ARM request (token included).
	HubsRequestTimeout = 15 * time.Second
)

// TokenSource returns a bearer token for a request to requestURL.
type TokenSource interface {
	// Token returns the bearer token (without "Bearer ") for requestURL.
	Token(ctx context.Context, requestURL *url.URL) (string, error)
}

// HubsClientOptions configures a HubsClient.
type HubsClientOptions struct {
	// HTTPClient sends the requests; nil means one shared pooled client.
	HTTPClient *http.Client
	// APIVersion is the ARM api-version; "" means ARMAPIVersion.
	APIVersion string
	// PollInterval fixes the wait between polls; 0 honours Retry-After, else DefaultPollInterval.
	PollInterval time.Duration
}

// HubsClient manages the hub settings of one Web PubSub resource through the ARM-shaped
// management API. It is safe for concurrent use.
type HubsClient struct {
	base         *url.URL
	resource     ResourceID
	tokens       TokenSource
	httpClient   *http.Client
	apiVersion   string
	pollInterval time.Duration
}

// NewHubsClient returns a HubsClient for resource. baseURL is "https://management.azure.com"
// for Azure, or the PubSub service's endpoint.
func NewHubsClient(baseURL string, resource ResourceID, tokens TokenSource, opts *HubsClientOptions) (*HubsClient, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hubs client: base URL %q is not an http(s) URL", truncate(baseURL, 256))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, errors.New("hubs client: base URL must be scheme://host[:port] only")
	}
	if err := resource.validate(); err != nil {
		return nil, fmt.Errorf("hubs client: %w", err)
	}
	if tokens == nil {
		return nil, errors.New("hubs client: token source is nil")
	}
	if opts == nil {
		opts = &HubsClientOptions{}
	}
	if opts.PollInterval < 0 {
		return nil, fmt.Errorf("hubs client: poll interval %s is negative", opts.PollInterval)
	}
	c := &HubsClient{
		base:         &url.URL{Scheme: u.Scheme, Host: u.Host},
		resource:     resource,
		tokens:       tokens,
		httpClient:   opts.HTTPClient,
		apiVersion:   opts.APIVersion,
		pollInterval: opts.PollInterval,
	}
	if c.httpClient == nil {
		c.httpClient = sharedHTTPClient
	}
	if c.apiVersion == "" {
		c.apiVersion = ARMAPIVersion
	}
	return c, nil
}

// Get returns the settings of hub; IsNotFound(err) when the hub has none.
func (c *HubsClient) Get(ctx context.Context, hub string) (*HubSettings, error) {
	u, err := c.hubURL(hub)
	if err != nil {
		return nil, err
	}
	resp, err := c.doJSON(ctx, http.MethodGet, u, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	return decodeHubSettings(resp)
}

// CreateOrUpdate puts the settings of hub. On 201 it polls the Azure-AsyncOperation URL
// until the operation ends, then returns the hub as stored.
func (c *HubsClient) CreateOrUpdate(ctx context.Context, hub string, s *HubSettings) (*HubSettings, error) {
	if s == nil {
		return nil, errors.New("hubs client: settings are nil")
	}
	u, err := c.hubURL(hub)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(HubSettings{Properties: s.Properties})
	if err != nil {
		return nil, fmt.Errorf("hubs client: encoding settings: %w", err)
	}
	resp, err := c.doJSON(ctx, http.MethodPut, u, body, http.StatusOK, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusOK {
		return decodeHubSettings(resp)
	}
	op := resp.header.Get("Azure-AsyncOperation")
	if op == "" {
		// Without an operation to follow, the created resource in the body is the result.
		if len(bytes.TrimSpace(resp.body)) > 0 {
			return decodeHubSettings(resp)
		}
		return c.Get(ctx, hub)
	}
	if err := c.pollAsyncOperation(ctx, op, resp.header); err != nil {
		return nil, err
	}
	return c.Get(ctx, hub)
}

// Delete removes the settings of hub, following a 202's Location until the deletion ends.
// A hub that does not exist is not an error.
func (c *HubsClient) Delete(ctx context.Context, hub string) error {
	u, err := c.hubURL(hub)
	if err != nil {
		return err
	}
	resp, err := c.doJSON(ctx, http.MethodDelete, u, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if resp.status != http.StatusAccepted {
		return nil
	}
	loc := resp.header.Get("Location")
	if loc == "" {
		loc = resp.header.Get("Azure-AsyncOperation")
		if loc == "" {
			return nil
		}
		return c.pollAsyncOperation(ctx, loc, resp.header)
	}
	return c.pollLocation(ctx, loc, resp.header)
}

// ListKeys returns the resource's access keys and connection strings.
func (c *HubsClient) ListKeys(ctx context.Context) (*Keys, error) {
	u, err := c.resourceURL("listKeys")
	if err != nil {
		return nil, err
	}
	resp, err := c.doJSON(ctx, http.MethodPost, u, nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	var k Keys
	if err := json.Unmarshal(resp.body, &k); err != nil {
		return nil, errors.New("hubs client: listKeys response is not the expected JSON")
	}
	return &k, nil
}

// hubURL returns .../webPubSub/{name}/hubs/{hub}?api-version=.
func (c *HubsClient) hubURL(hub string) (*url.URL, error) {
	if err := ValidateHubName(hub); err != nil {
		return nil, fmt.Errorf("hubs client: %w", err)
	}
	return c.resourceURL("hubs", hub)
}

func (c *HubsClient) resourceURL(segments ...string) (*url.URL, error) {
	var b strings.Builder
	b.WriteString(c.base.String())
	b.WriteString(c.resource.String())
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	b.WriteString("?api-version=")
	b.WriteString(url.QueryEscape(c.apiVersion))
	return url.Parse(b.String())
}

// armResponse is a buffered ARM response.
type armResponse struct {
	status int
	header http.Header
	body   []byte
	path   string
}

func decodeHubSettings(r *armResponse) (*HubSettings, error) {
	var hs HubSettings
	if err := json.Unmarshal(r.body, &hs); err != nil {
		return nil, fmt.Errorf("hubs client: %s: response is not hub settings JSON: %w", r.path, err)
	}
	return &hs, nil
}

// doJSON sends one ARM request with a bearer token and returns the buffered response when
// its status is one of ok; other statuses become a *ResponseError.
func (c *HubsClient) doJSON(ctx context.Context, method string, u *url.URL, body []byte, ok ...int) (*armResponse, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	ctx, cancel := context.WithTimeout(ctx, HubsRequestTimeout)
	defer cancel()
	tok, err := c.tokens.Token(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("hubs client: getting a token for %s %s: %w", method, u.Path, err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("hubs client: %s %s: %w", method, u.Path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", ContentTypeJSON)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hubs client: %s %s: %w", method, u.Path, transportError(err))
	}
	defer resp.Body.Close()
	for _, s := range ok {
		if resp.StatusCode == s {
			b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
			if err != nil {
				return nil, fmt.Errorf("hubs client: %s %s: reading response: %w", method, u.Path, err)
			}
			return &armResponse{status: resp.StatusCode, header: resp.Header, body: b, path: u.Path}, nil
		}
	}
	re := newResponseError(resp, tok)
	if resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "") {
		return nil, &ThrottledError{RetryAfter: retryAfter(resp.Header), Err: re}
	}
	return nil, re
}

// pollTarget resolves a polling URL and refuses one on another host, so that the bearer
// token never leaves the management endpoint.
func (c *HubsClient) pollTarget(raw string) (*url.URL, error) {
	ref, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("hubs client: the polling URL is not a URL")
	}
	u := c.base.ResolveReference(ref)
	if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
		return nil, errors.New("hubs client: the polling URL points to another host")
	}
	u.Fragment = ""
	return u, nil
}

// pollContext bounds polling when ctx has no deadline of its own.
func pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, defaultPollTimeout)
}

// pollAsyncOperation polls an Azure-AsyncOperation URL until its status is terminal.
func (c *HubsClient) pollAsyncOperation(ctx context.Context, raw string, last http.Header) error {
	u, err := c.pollTarget(raw)
	if err != nil {
		return err
	}
	ctx, cancel := pollContext(ctx)
	defer cancel()
	for {
		if err := c.wait(ctx, last); err != nil {
			return fmt.Errorf("hubs client: waiting for operation %s: %w", u.Path, err)
		}
		resp, err := c.doJSON(ctx, http.MethodGet, u, nil, http.StatusOK, http.StatusAccepted)
		if err != nil {
			return err
		}
		ended, err := asyncStatus(resp, u.Path)
		if ended {
			return err
		}
		last = resp.header
	}
}

// pollLocation polls a Location URL until it stops answering 202.
func (c *HubsClient) pollLocation(ctx context.Context, raw string, last http.Header) error {
	u, err := c.pollTarget(raw)
	if err != nil {
		return err
	}
	ctx, cancel := pollContext(ctx)
	defer cancel()
	for {
		if err := c.wait(ctx, last); err != nil {
			return fmt.Errorf("hubs client: waiting for %s: %w", u.Path, err)
		}
		resp, err := c.doJSON(ctx, http.MethodGet, u, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
		if IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if resp.status != http.StatusAccepted {
			return nil
		}
		last = resp.header
	}
}

// wait sleeps for the poll interval: the fixed option, else Retry-After, else the default.
func (c *HubsClient) wait(ctx context.Context, h http.Header) error {
	d := c.pollInterval
	if d == 0 {
		d = retryAfter(h)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter reads Retry-After (seconds or an HTTP date), capped, defaulting to
// DefaultPollInterval.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return DefaultPollInterval
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	} else {
		return DefaultPollInterval
	}
	switch {
	case d < minRetryAfter:
		return minRetryAfter
	case d > maxRetryAfter:
		return maxRetryAfter
	}
	return d
}
