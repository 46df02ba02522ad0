// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chathub/chathub/pubsub/auth"
	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/settings"
)

// MinAccessKeyLength is the shortest access key the service accepts.
const MinAccessKeyLength = 32

// Defaults of Config.
const (
	DefaultKeepAlive    = 20 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultTokenLeeway  = auth.DefaultLeeway
	// DefaultRateLimit is how many messages per second a client connection may send on
	// average (every data frame: events, group messages, joins, pings, acks).
	DefaultRateLimit = 50
	// DefaultReadHeaderTimeout bounds reading a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout bounds reading the body of a request that is not a WebSocket
	// handshake (REST, ARM), counted from the end of its headers.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long an idle keep-alive connection is kept.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxUnauthenticated is how many connections that have not authenticated may be
	// open at once.
	DefaultMaxUnauthenticated = 256
	// DefaultRateBurst is how many messages above DefaultRateLimit a connection may send at once.
	DefaultRateBurst = 100
)

// Config configures a Server. Endpoint and AccessKeys are required.
type Config struct {
	// Endpoint is the URL clients and servers use to reach the service (scheme + host[:port]);
	// token audiences must name its host (or the request's Host).
	Endpoint *url.URL
	// AccessKeys sign and verify tokens and upstream signatures; the first one is advertised
	// in ConnectionString. Each must be at least 32 characters.
	AccessKeys []string
	// Logger receives the service's logs; nil => discard.
	Logger *slog.Logger
	// Settings holds the hubs' event handlers; nil => an empty store.
	Settings *settings.Store
	// UpstreamClient sends CloudEvents to event handlers; nil => the dispatcher's default.
	UpstreamClient *http.Client
	// UpstreamTimeout bounds one upstream event including retries; 0 => the dispatcher's default.
	UpstreamTimeout time.Duration
	// UpstreamRetryDelays overrides the dispatcher's retry waits (nil => its defaults).
	UpstreamRetryDelays []time.Duration
	// KeepAlive is the interval of server pings; a client silent for three intervals is
	// closed (PingTimeout). 0 => 20 s.
	KeepAlive time.Duration
	// WriteTimeout bounds writing one frame to a client; 0 => 10 s.
	WriteTimeout time.Duration
	// WriterPoolSize is the most goroutines writing to client sockets at once (the writer
	// pool of pubsub/transport); 0 => max(4, 2×GOMAXPROCS).
	WriterPoolSize int
	// WriteCoalesce is how long a client socket that was just written gathers further frames
	// before its next write (pubsub/transport's Config.WriteCoalesce): frames further apart
	// are written at once. 0 => 2 ms; negative => no gathering.
	WriteCoalesce time.Duration
	// MaxQueueFrames and MaxQueueBytes bound each connection's send queue (0 => hub defaults).
	MaxQueueFrames, MaxQueueBytes int
	// MaxUnackedFrames and MaxUnackedBytes bound each reliable connection's unacknowledged
	// buffer (0 => 1,000 messages and 16 MiB).
	MaxUnackedFrames, MaxUnackedBytes int
	// RecoveryWindow is how long a dropped reliable connection may be recovered; 0 => 30 s.
	RecoveryWindow time.Duration
	// RateLimit is how many messages (data frames) per second a client connection may send
	// on average; a connection over its limit is closed with 1008 and reason RateLimited.
	// 0 => DefaultRateLimit (50); negative => no limit.
	RateLimit float64
	// RateBurst is how many messages above RateLimit a connection may send at once;
	// 0 => DefaultRateBurst (100).
	RateBurst int
	// ReadHeaderTimeout bounds reading a request's headers (ConfigureHTTPServer);
	// 0 => DefaultReadHeaderTimeout (10 s).
	ReadHeaderTimeout time.Duration
	// BodyTimeout bounds reading the body of every request that is not a WebSocket
	// handshake, from the end of its headers (a read deadline set by Handler, so it also
	// applies where the service's routes are mounted on another server); 0 =>
	// DefaultBodyTimeout (30 s).
	BodyTimeout time.Duration
	// IdleTimeout is how long an idle keep-alive connection is kept (ConfigureHTTPServer);
	// 0 => DefaultIdleTimeout (60 s).
	IdleTimeout time.Duration
	// MaxUnauthenticated bounds the connections that have not authenticated (see
	// ConfigureHTTPServer); 0 => DefaultMaxUnauthenticated (256).
	MaxUnauthenticated int
	// Now returns the current time (token checks); nil => time.Now.
	Now func() time.Time
	// Cluster, when set, makes the service one replica of several that share their hubs
	// through NATS (pubsub/cluster); its Handler, Logger and Registerer are the Server's.
	// nil => a single replica without NATS.
	Cluster *cluster.Config
}

// Validate reports the first problem of the configuration. Messages never contain keys.
func (c *Config) Validate() error {
	if c.Endpoint == nil {
		return errors.New("endpoint is required")
	}
	switch strings.ToLower(c.Endpoint.Scheme) {
	case "http", "https":
	default:
		return fmt.Errorf("endpoint scheme %q is not http or https", c.Endpoint.Scheme)
	}
	if c.Endpoint.Host == "" {
		return errors.New("endpoint has no host")
	}
	if len(c.AccessKeys) == 0 {
		return errors.New("at least one access key is required")
	}
	for i, k := range c.AccessKeys {
		if err := ValidateAccessKey(k); err != nil {
			return fmt.Errorf("access key %d: %w", i+1, err)
		}
	}
	if c.KeepAlive < 0 || c.WriteTimeout < 0 || c.RecoveryWindow < 0 ||
		c.ReadHeaderTimeout < 0 || c.BodyTimeout < 0 || c.IdleTimeout < 0 {
		return errors.New("durations must not be negative")
	}
	if math.IsNaN(c.RateLimit) {
		return errors.New("the rate limit must be a number")
	}
	if c.RateBurst < 0 {
		return errors.New("the rate burst must not be negative")
	}
	if c.MaxUnauthenticated < 0 {
		return errors.New("the bound on unauthenticated connections must not be negative")
	}
	return nil
}

// ValidateAccessKey checks the rules of the service for an access key: at least 32
// characters, no ';', no control characters and no surrounding whitespace.
func ValidateAccessKey(k string) error {
	switch {
	case len(k) < MinAccessKeyLength:
		return fmt.Errorf("access key is %d characters long, it must be at least %d", len(k), MinAccessKeyLength)
	case strings.TrimSpace(k) != k:
		return errors.New("access key has surrounding whitespace")
	case strings.ContainsRune(k, ';'):
		return errors.New("access key contains ';'")
	case strings.IndexFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return errors.New("access key contains control characters")
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Settings == nil {
		c.Settings = settings.NewStore()
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	switch {
	case c.RateLimit == 0:
		c.RateLimit = DefaultRateLimit
	case c.RateLimit < 0:
		c.RateLimit = 0 // the transport's "no limit"
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.BodyTimeout = cmp.Or(c.BodyTimeout, DefaultBodyTimeout)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.MaxUnauthenticated = cmp.Or(c.MaxUnauthenticated, DefaultMaxUnauthenticated)
	if c.Now == nil {
		c.Now = time.Now
	}
	ep := *c.Endpoint
	ep.Path, ep.RawPath, ep.RawQuery, ep.Fragment = "", "", "", ""
	c.Endpoint = &ep
}
