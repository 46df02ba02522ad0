// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package cluster lets several replicas of the PubSub service share one set of hubs through
// NATS. Each replica keeps its own connections (pubsub/hub); an operation on the hub state
// (a send, a group change, a close) is published once, as an Op, by the replica that takes
// it, and every replica, that one included, applies it to its own connections when it comes
// back from NATS. Questions whose answer may lie on any replica (does this connection exist,
// who is in this group) are asked with a request that every replica answers (scatter-gather).
//
// Every replica publishes through one NATS connection and receives every Op, its own too,
// through one subscription, handled in order: all replicas apply the Ops of one NATS server
// in the one order the server took them, so an Op published (and flushed) before another
// was published is applied before it everywhere. Replicas find each other with heartbeats
// on the same subjects, so a request knows how many answers to wait for.
package cluster

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultPrefix         = "chathub.pubsub"
	DefaultRequestTimeout = 2 * time.Second
	DefaultHeartbeat      = time.Second
	// ReplicaIDLength is the length of a replica id (URL-safe characters).
	ReplicaIDLength = 8
)

// Internal op kinds: replicas announcing themselves and leaving.
const (
	kindHello = "hello"
	kindBye   = "bye"
)

// Handler applies what the replicas publish to this replica's connections. Its methods are
// called from one goroutine, in the order NATS delivers the Ops.
type Handler interface {
	// Apply carries out an Op published by a replica, this one included.
	Apply(op *Op)
	// Answer answers a request (KindExists, KindMembers, KindPermission, KindJoin,
	// KindSettings) of a replica, this one included, about this replica's connections.
	Answer(op *Op) Reply
	// Joined tells that a replica not heard from before has announced itself (a new one, or
	// one back after three silent heartbeats): the place to send it what it cannot ask for.
	Joined(replica string)
}

// Config configures a Cluster. URL and Handler are required.
type Config struct {
	// URL names the NATS servers, comma-separated (nats://, tls://).
	URL string
	// Name is the NATS connection name shown in the server's monitoring.
	Name string
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string
	// User and Password authenticate with a user name and password.
	User, Password string
	// TLSCAFile is the CA bundle that verifies the NATS servers; TLSCertFile and TLSKeyFile
	// are the client certificate for mutual TLS.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	// Prefix starts every subject; replicas of one service share it. "" => DefaultPrefix.
	Prefix string
	// RequestTimeout bounds waiting for the answers of a request and for NATS to acknowledge
	// a flushed publish; 0 => DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Heartbeat is how often a replica announces itself; a replica silent for three
	// heartbeats is taken as gone. 0 => DefaultHeartbeat.
	Heartbeat time.Duration
	// Handler receives the Ops and requests of the other replicas.
	Handler Handler
	// Logger receives connection changes; nil => discard. Credentials are never logged.
	Logger *slog.Logger
	// Registerer receives the NATS hop's metrics; nil => not registered.
	Registerer prometheus.Registerer
}

// ErrIncomplete reports a request that some replica known to be alive did not answer in time.
var ErrIncomplete = errors.New("a replica did not answer in time")

// ErrNotConnected reports an operation while the replica is not connected to NATS.
var ErrNotConnected = errors.New("the replica is not connected to NATS")

// Cluster is this replica's side of the NATS hop. It is safe for concurrent use.
type Cluster struct {
	cfg     Config
	id      string
	log     *slog.Logger
	nc      *nats.Conn
	sub     *nats.Subscription
	metrics *metrics

	mu    sync.Mutex
	peers map[string]time.Time // replica id => last heartbeat

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New connects to NATS; Start then subscribes. The first connection must succeed;
// afterwards the client reconnects for ever, and the replica is not Ready while disconnected.
func New(cfg Config) (*Cluster, error) {
	if cfg.URL == "" {
		return nil, errors.New("the NATS URL is required")
	}
	if cfg.Handler == nil {
		return nil, errors.New("a handler is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		cfg: cfg, id: newReplicaID(), log: cfg.Logger, peers: map[string]time.Time{},
		stop: make(chan struct{}), metrics: newMetrics(),
	}
	opts, err := c.options()
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", redactURL(cfg.URL), err)
	}
	c.nc = nc
	return c, nil
}

// Start subscribes to the service's subjects, announces the replica and starts its heartbeat.
// From then on the Handler is called; the caller has had the time to keep c where the
// Handler finds it.
func (c *Cluster) Start() error {
	cfg := &c.cfg
	sub, err := c.nc.Subscribe(cfg.Prefix+".>", c.receive)
	if err == nil {
		// Ops are small and a replica applies them quickly; a burst must not be dropped.
		err = sub.SetPendingLimits(1<<20, 1<<30)
	}
	if err == nil {
		err = c.nc.FlushTimeout(cfg.RequestTimeout)
	}
	if err != nil {
		c.nc.Close()
		return fmt.Errorf("subscribing to NATS subjects %s.>: %w", cfg.Prefix, err)
	}
	c.sub = sub
	c.metrics.register(cfg.Registerer, c)
	c.hello()
	c.wg.Go(c.heartbeat)
	c.log.Info("Connected to NATS", "url", redactURL(c.nc.ConnectedUrlRedacted()), "replica", c.id, "prefix", cfg.Prefix)
	return nil
}

func (c *Cluster) options() ([]nats.Option, error) {
	cfg := &c.cfg
	opts := []nats.Option{
		nats.Name(cmpOr(cfg.Name, "chathub-pubsub")),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// No buffering while reconnecting: a publish then fails, and the REST call with it,
		// instead of being replayed late and out of order with what other replicas did.
		nats.ReconnectBufSize(-1),
		nats.Timeout(cfg.RequestTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if c.closing() {
				return
			}
			c.log.Warn("Lost the connection to NATS; not ready until it is back", "replica", c.id, "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.log.Info("Reconnected to NATS", "replica", c.id, "url", redactURL(nc.ConnectedUrlRedacted()))
			c.hello()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				c.metrics.dropped.Inc()
			}
			c.log.Error("NATS error", "replica", c.id, "error", err)
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.TLSCAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCAFile))
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("a NATS client certificate needs both its certificate and its key file")
	}
	if cfg.TLSCertFile != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCertFile, cfg.TLSKeyFile))
	}
	return opts, nil
}

// Heartbeat returns the interval of the heartbeats.
func (c *Cluster) Heartbeat() time.Duration { return c.cfg.Heartbeat }

// ID returns this replica's id: ReplicaIDLength URL-safe characters, new on every start.
func (c *Cluster) ID() string { return c.id }

// Ready reports whether the replica is connected to NATS.
func (c *Cluster) Ready() bool { return c.nc.IsConnected() }

// Peers returns the number of other replicas heard from within three heartbeats.
func (c *Cluster) Peers() int {
	cutoff := time.Now().Add(-3 * c.cfg.Heartbeat)
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id, seen := range c.peers {
		if seen.Before(cutoff) {
			delete(c.peers, id)
			continue
		}
		n++
	}
	return n
}

// Publish sends op to every replica, this one included. With flush it returns once the NATS
// server has taken it, so that what the caller does next (answer a REST call, after which
// its client may call another replica) is ordered after it.
func (c *Cluster) Publish(op *Op, flush bool) error {
	if !c.nc.IsConnected() {
		return ErrNotConnected
	}
	op.Replica, op.SentNanos = c.id, time.Now().UnixNano()
	b, err := op.encode()
	if err != nil {
		return err
	}
	if err := c.nc.Publish(c.subject(op), b); err != nil {
		return err
	}
	c.metrics.published.WithLabelValues(op.Kind).Inc()
	if flush {
		return c.nc.FlushTimeout(c.cfg.RequestTimeout)
	}
	return nil
}

// Gather sends request op to every replica, this one included, and collects their answers
// until each replica known to be alive has answered or done (which may be nil) returns true
// for an answer. When some replica has not answered within the request timeout it returns
// the answers it has and ErrIncomplete.
func (c *Cluster) Gather(op *Op, done func(Reply) bool) ([]Reply, error) {
	if !c.nc.IsConnected() {
		return nil, ErrNotConnected
	}
	expected := c.Peers() + 1
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	op.Replica, op.SentNanos = c.id, time.Now().UnixNano()
	b, err := op.encode()
	if err != nil {
		return nil, err
	}
	if err := c.nc.PublishRequest(c.subject(op), inbox, b); err != nil {
		return nil, err
	}
	c.metrics.published.WithLabelValues(op.Kind).Inc()
	deadline := time.Now().Add(c.cfg.RequestTimeout)
	seen := map[string]bool{}
	var replies []Reply
	for len(seen) < expected {
		msg, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			c.metrics.incomplete.WithLabelValues(op.Kind).Inc()
			if errors.Is(err, nats.ErrTimeout) {
				return replies, ErrIncomplete
			}
			return replies, fmt.Errorf("%w: %w", ErrIncomplete, err)
		}
		var r Reply
		if json.Unmarshal(msg.Data, &r) != nil || r.Replica == "" || seen[r.Replica] {
			continue
		}
		seen[r.Replica] = true
		replies = append(replies, r)
		if done != nil && done(r) {
			break
		}
	}
	return replies, nil
}

// Close tells the other replicas this one is leaving and closes the NATS connection.
func (c *Cluster) Close() {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.wg.Wait()
		if c.nc.IsConnected() {
			_ = c.Publish(&Op{Kind: kindBye}, true)
		}
		c.nc.Close()
	})
}

// subject is where op goes: per hub for hub operations, a system subject for the others.
// Hub names may hold characters NATS gives a meaning to ('.'), so they travel in hex.
func (c *Cluster) subject(op *Op) string {
	if op.Hub == "" {
		return c.cfg.Prefix + ".sys." + op.Kind
	}
	return c.cfg.Prefix + ".hub." + hex.EncodeToString([]byte(strings.ToLower(op.Hub))) + "." + op.Kind
}

// receive handles one message of another replica, on the subscription's goroutine.
func (c *Cluster) receive(msg *nats.Msg) {
	op, err := decode(msg.Data)
	if err != nil {
		c.log.Warn("Ignored a malformed NATS message", "subject", msg.Subject, "error", err)
		return
	}
	self := op.Replica == c.id
	if self && (op.Kind == kindHello || op.Kind == kindBye || op.Kind == KindSync) {
		return // its own announcements, and the settings it already has
	}
	c.metrics.received.WithLabelValues(op.Kind).Inc()
	if lag := time.Now().UnixNano() - op.SentNanos; op.SentNanos > 0 && lag >= 0 {
		c.metrics.lag.Observe(time.Duration(lag).Seconds())
	}
	switch op.Kind {
	case kindHello:
		if c.seen(op.Replica) {
			return
		}
		// A new replica: answer at once so that it knows this one before its first request.
		c.hello()
		c.cfg.Handler.Joined(op.Replica)
		return
	case kindBye:
		c.mu.Lock()
		delete(c.peers, op.Replica)
		c.mu.Unlock()
		return
	}
	if !self {
		c.seen(op.Replica)
	}
	if msg.Reply == "" {
		c.cfg.Handler.Apply(op)
		return
	}
	r := c.cfg.Handler.Answer(op)
	r.Replica = c.id
	b, err := json.Marshal(r)
	if err == nil {
		err = msg.Respond(b)
	}
	if err != nil {
		c.log.Warn("Could not answer a request of another replica", "replica", op.Replica, "kind", op.Kind, "error", err)
	}
}

// seen records a sign of life of replica id and reports whether it was known.
func (c *Cluster) seen(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, known := c.peers[id]
	c.peers[id] = time.Now()
	return known
}

// closing reports whether Close has begun.
func (c *Cluster) closing() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

func (c *Cluster) hello() { _ = c.Publish(&Op{Kind: kindHello}, false) }

func (c *Cluster) heartbeat() {
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.hello()
		}
	}
}

// newReplicaID returns ReplicaIDLength random URL-safe characters.
func newReplicaID() string {
	b := make([]byte, ReplicaIDLength*3/4)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// redactURL hides user info in a list of NATS URLs.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "***" + p[at:]
			} else {
				parts[i] = "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
