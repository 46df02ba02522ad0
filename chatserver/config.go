// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package chatserver is the ChatHub chat server: the Azure Web PubSub chat
// tutorial's server done properly. It serves the embedded web UI, hands
// browsers their client access URL (/negotiate), receives the service's
// CloudEvents (/eventhandler) and broadcasts chat messages through the
// service's REST API. It can also proxy the client WebSocket to the service
// (/client/...) for setups where browsers cannot reach the service.
package chatserver

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/chathub/chathub/chatserver/auth"
	"github.com/chathub/chathub/internal/envvar"
	"github.com/chathub/chathub/webpubsub"
)

// EnvConnectionString is the environment variable holding the Web PubSub
// connection string. EnvTutorialConnectionString, the name the official
// chat sample uses, is read when it is unset.
const (
	EnvConnectionString         = envvar.Prefix + "CONNECTION_STRING"
	EnvTutorialConnectionString = "WebPubSubConnectionString"
)

// EnvVars are the environment variables the chat server reads (LoadEnv).
var EnvVars = []envvar.Var{{
	Name: EnvConnectionString, Accepted: []string{EnvTutorialConnectionString},
	Usage: "the Web PubSub connection string",
}}

// DefaultMetricsListen is the default of --metrics-listen: loopback only.
const DefaultMetricsListen = "127.0.0.1:9090"

// MaxUserIDChars is the longest user id /negotiate accepts, in characters.
const MaxUserIDChars = 64

// MaxMessageChars is the longest chat message the server broadcasts, in
// characters (Unicode code points). The UI's composer carries the same number
// in its data-max-chars attribute (ui/static/index.html; a test compares them).
const MaxMessageChars = 4000

// DefaultUserMessageRate and DefaultUserMessageBurst are the per-user message
// limit: a person typing fast sends a few messages in a row and then about
// one every few seconds, far below 2 per second after a burst of 10.
const (
	DefaultUserMessageRate  = 2
	DefaultUserMessageBurst = 10
)

// Config is the whole configuration of the chat server: defaults from
// DefaultConfig, then the environment (LoadEnv), then flags (BindFlags).
type Config struct {
	// Listen is the TCP address the HTTP server binds.
	Listen string
	// InternalListen, when set, is a second TCP address that alone serves
	// /eventhandler; Listen then answers 404 for it. Empty serves it on
	// Listen.
	InternalListen string
	// MetricsListen is the TCP address that alone serves /metrics (and a
	// /healthz); empty serves no metrics. /metrics is never on Listen, which
	// an Ingress routes to the world. The default is loopback, so a chat
	// server run by hand exposes nothing; the operator passes :9090.
	MetricsListen string
	// Hub is the Web PubSub hub the chat uses.
	Hub string
	// ConnectionString is the Web PubSub connection string (from the
	// environment). It holds the access key: never print it.
	ConnectionString string
	// ConnectionStringEnv is the environment variable ConnectionString came
	// from (LoadEnv), for messages.
	ConnectionStringEnv string
	// ConnectionStringFile is a file holding the connection string (a mounted
	// Secret). When set it wins over ConnectionString, and changes to the
	// file are picked up without a restart.
	ConnectionStringFile string
	// ReloadInterval is how often the connection string file is checked.
	ReloadInterval time.Duration
	// TokenTTL is the lifetime of the client access tokens /negotiate issues.
	TokenTTL time.Duration
	// ProxyClient makes the server proxy /client/... WebSockets to the
	// service and /negotiate return URLs on the page's own origin.
	ProxyClient bool
	// Embedded starts the PubSub service in the same process and
	// registers the chat's event handler with it; /negotiate then returns
	// URLs on the page's own origin, as with ProxyClient.
	Embedded bool
	// ReadyCacheTTL is how long a service health check result is reused by
	// /readyz.
	ReadyCacheTTL time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests on shutdown.
	ShutdownTimeout time.Duration
	// RequestTimeout bounds each REST call to the service.
	RequestTimeout time.Duration
	// EventTimeTolerance is the replay window of the event handler: events
	// whose ce-time is further from the server's clock are refused with 401.
	EventTimeTolerance time.Duration
	// UserMessageRate is how many chat messages per second one user may send
	// (per chat server replica); 0 turns the limit off.
	UserMessageRate float64
	// UserMessageBurst is how many messages a user may send at once before
	// UserMessageRate applies.
	UserMessageBurst int
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadBodyTimeout bounds reading a request's body, for every handler but
	// the WebSockets of /client/.
	ReadBodyTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for longer.
	IdleTimeout time.Duration
	// MaxPendingConnections bounds the connections that have not yet sent a
	// complete request; beyond it the oldest of them is closed.
	MaxPendingConnections int
	// Auth is how the chat learns who is speaking (--auth and its flags).
	Auth auth.Config
}

// DefaultConfig returns the configuration used when nothing overrides it.
func DefaultConfig() Config {
	return Config{
		Listen:          ":8080",
		MetricsListen:   DefaultMetricsListen,
		Hub:             "chat",
		ReloadInterval:  2 * time.Second,
		TokenTTL:        time.Hour,
		ReadyCacheTTL:   2 * time.Second,
		ShutdownTimeout: 25 * time.Second,
		RequestTimeout:  10 * time.Second,

		EventTimeTolerance:    webpubsub.DefaultEventTimeTolerance,
		UserMessageRate:       DefaultUserMessageRate,
		UserMessageBurst:      DefaultUserMessageBurst,
		ReadHeaderTimeout:     10 * time.Second,
		ReadBodyTimeout:       30 * time.Second,
		IdleTimeout:           120 * time.Second,
		MaxPendingConnections: 256,
		Auth:                  auth.DefaultConfig(),
	}
}

// LoadEnv applies the environment (read through getenv) to c.
func (c *Config) LoadEnv(getenv func(string) string) {
	if v, from := EnvVars[0].Lookup(getenv); v != "" {
		c.ConnectionString, c.ConnectionStringEnv = strings.TrimSpace(v), from
	}
}

// BindFlags registers the chat server's flags on fs, with c's current values
// as defaults, so parsing fs overrides c.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "TCP address to serve HTTP on")
	fs.StringVar(&c.InternalListen, "internal-listen", c.InternalListen,
		"TCP address that alone serves /eventhandler (empty: serve it on --listen)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen,
		"TCP address that alone serves /metrics, never --listen (empty: no metrics; \":9090\" serves every interface, as in a pod)")
	fs.StringVar(&c.Hub, "hub", c.Hub, "Web PubSub hub name")
	fs.StringVar(&c.ConnectionStringFile, "connection-string-file", c.ConnectionStringFile,
		"file holding the Web PubSub connection string (reloaded on change); overrides $"+EnvConnectionString+" and $"+EnvTutorialConnectionString)
	fs.DurationVar(&c.TokenTTL, "token-ttl", c.TokenTTL, "lifetime of the client access tokens issued by /negotiate")
	fs.BoolVar(&c.ProxyClient, "proxy-client", c.ProxyClient,
		"proxy client WebSockets (/client/...) to the service and give browsers URLs on the page's own origin")
	fs.BoolVar(&c.Embedded, "embedded", c.Embedded,
		"run the PubSub service in this process (no Azure needed); browsers get URLs on the page's own origin")
	fs.DurationVar(&c.ReloadInterval, "reload-interval", c.ReloadInterval, "how often to check the connection string file")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long to wait for in-flight requests on shutdown")
	fs.DurationVar(&c.EventTimeTolerance, "event-time-tolerance", c.EventTimeTolerance,
		"replay window: refuse events whose ce-time is further than this from the server's clock (401)")
	fs.Float64Var(&c.UserMessageRate, "user-message-rate", c.UserMessageRate,
		"chat messages per second one user may send, per replica (0: no limit)")
	fs.IntVar(&c.UserMessageBurst, "user-message-burst", c.UserMessageBurst,
		"chat messages one user may send at once before --user-message-rate applies")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "how long a client may take to send a request's headers")
	fs.DurationVar(&c.ReadBodyTimeout, "read-body-timeout", c.ReadBodyTimeout,
		"how long a client may take to send a request's body (all but the WebSockets of /client/)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.MaxPendingConnections, "max-pending-connections", c.MaxPendingConnections,
		"connections that have not yet sent a complete request; beyond it the oldest is closed")
	c.Auth.BindFlags(fs)
}

// sameAddress reports whether a, when set, is the address b: two
// listeners cannot share it, unless the port is 0 (any free one).
func sameAddress(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" || a != b {
		return false
	}
	_, port, _ := net.SplitHostPort(a)
	return port != "0"
}

// Validate reports the first problem with c as one sentence. It parses the
// connection string from the environment; the message never contains the key.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.Listen) == "" {
		return errors.New("the listen address (--listen) must not be empty")
	}
	if sameAddress(c.InternalListen, c.Listen) {
		return errors.New("the internal listen address (--internal-listen) must differ from --listen")
	}
	if sameAddress(c.MetricsListen, c.Listen) {
		return errors.New("the metrics address (--metrics-listen) must differ from --listen: /metrics is never public")
	}
	if sameAddress(c.MetricsListen, c.InternalListen) {
		return errors.New("the metrics address (--metrics-listen) must differ from --internal-listen")
	}
	if err := webpubsub.ValidateHubName(c.Hub); err != nil {
		return fmt.Errorf("the hub name (--hub) is invalid: %w", err)
	}
	if c.TokenTTL < time.Minute || c.TokenTTL > 24*time.Hour {
		return fmt.Errorf("the token lifetime (--token-ttl) must be between 1m and 24h, not %s", c.TokenTTL)
	}
	if c.ReloadInterval <= 0 {
		return errors.New("the reload interval (--reload-interval) must be positive")
	}
	if c.ShutdownTimeout < 0 {
		return errors.New("the shutdown timeout (--shutdown-timeout) must not be negative")
	}
	if c.EventTimeTolerance < time.Second {
		return fmt.Errorf("the event time tolerance (--event-time-tolerance) must be at least 1s, not %s", c.EventTimeTolerance)
	}
	if c.UserMessageRate < 0 || c.UserMessageRate > 1e6 {
		return fmt.Errorf("the user message rate (--user-message-rate) must be between 0 and 1000000, not %g", c.UserMessageRate)
	}
	if c.UserMessageBurst < 1 || c.UserMessageBurst > 1e6 {
		return fmt.Errorf("the user message burst (--user-message-burst) must be between 1 and 1000000, not %d", c.UserMessageBurst)
	}
	for _, d := range []struct {
		name, flag string
		v          time.Duration
	}{
		{"read header timeout", "--read-header-timeout", c.ReadHeaderTimeout},
		{"read body timeout", "--read-body-timeout", c.ReadBodyTimeout},
		{"idle timeout", "--idle-timeout", c.IdleTimeout},
	} {
		if d.v <= 0 {
			return fmt.Errorf("the %s (%s) must be positive, not %s", d.name, d.flag, d.v)
		}
	}
	if c.MaxPendingConnections < 1 {
		return fmt.Errorf("the pending connection limit (--max-pending-connections) must be at least 1, not %d", c.MaxPendingConnections)
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	if c.Embedded {
		// The embedded service supplies its own connection string.
		return nil
	}
	switch {
	case c.ConnectionStringFile != "":
		// Read and parsed at start-up by the connection string watcher.
	case c.ConnectionString == "":
		return fmt.Errorf("no Web PubSub connection string: set $%s (or $%s) or --connection-string-file, or use --embedded",
			EnvConnectionString, EnvTutorialConnectionString)
	default:
		if _, err := webpubsub.ParseConnectionString(c.ConnectionString); err != nil {
			from := c.ConnectionStringEnv
			if from == "" {
				from = EnvConnectionString
			}
			return fmt.Errorf("the connection string in $%s is invalid: %w", from, err)
		}
	}
	return nil
}
