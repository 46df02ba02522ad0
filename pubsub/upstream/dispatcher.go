// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package upstream delivers the CloudEvents of the PubSub service to the event
// handlers configured for each hub: connect and user events block the caller and return the
// handler's answer; connected and disconnected are queued and delivered in order per
// connection. Each handler URL passes abuse-protection validation before its first use.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// Defaults of Config.
const (
	DefaultTimeout           = 100 * time.Second
	DefaultValidationTimeout = 10 * time.Second
	DefaultValidationTTL     = time.Minute
	DefaultMinBackoff        = time.Second
	DefaultMaxBackoff        = time.Minute
	DefaultQueueSize         = 256
	DefaultMaxResponseBytes  = 16 << 20
)

// DefaultRetryDelays are the waits before the 2nd, 3rd and 4th attempt of an event (§3.7).
var DefaultRetryDelays = []time.Duration{time.Second, 3 * time.Second, 5 * time.Second}

// Config configures a Dispatcher. Only Store is required.
type Config struct {
	// Store holds the event handlers per hub; changes take effect for the next event.
	Store *settings.Store
	// AccessKeys returns the current access keys; ce-signature carries one entry per key.
	AccessKeys func() []string
	// Origin is the bare host sent as WebHook-Request-Origin (e.g. "localhost").
	Origin string
	// HTTPClient sends the events; nil => a pooled client that does not follow redirects.
	HTTPClient *http.Client
	// Logger receives one line per failed delivery; nil => discard.
	Logger *slog.Logger
	// Timeout bounds one event including its retries; 0 => 100 s.
	Timeout time.Duration
	// RetryDelays are the waits before each retry of an event that failed with a network error,
	// 408 or 5xx; nil => DefaultRetryDelays (1, 3, 5 s: at most 4 attempts). An empty non-nil
	// slice disables retries.
	RetryDelays []time.Duration
	// ValidationTimeout bounds one abuse-protection request; 0 => 10 s.
	ValidationTimeout time.Duration
	// ValidationTTL is how long a successful validation is trusted; 0 => 1 min.
	ValidationTTL time.Duration
	// MinBackoff and MaxBackoff bound the wait before a failed validation is tried again; the
	// wait doubles after each failure. 0 => 1 s and 1 min.
	MinBackoff, MaxBackoff time.Duration
	// QueueSize bounds the events waiting per connection; 0 => 256.
	QueueSize int
	// MaxResponseBytes bounds a handler's response body; 0 => 16 MiB.
	MaxResponseBytes int64
	// Registerer receives the dispatcher's metrics; nil => none.
	Registerer prometheus.Registerer
	// Now returns the current time; nil => time.Now.
	Now func() time.Time
}

// ConnectionInfo identifies the connection an event belongs to.
type ConnectionInfo struct {
	Hub, ConnectionID, UserID, Subprotocol string
	// State is the raw ce-connectionState value ("" => none).
	State string
}

// ConnectEventBody is the body of the connect event.
type ConnectEventBody struct {
	Claims       map[string][]string `json:"claims"`
	Query        map[string][]string `json:"query"`
	Headers      map[string][]string `json:"headers"`
	Subprotocols []string            `json:"subprotocols"`
}

// ConnectResult is the connect handler's answer. State is nil when the handler did not send
// ce-connectionState, and points to the new value (maybe "") when it did.
type ConnectResult struct {
	UserID      string
	Groups      []string
	Roles       []string
	Subprotocol string
	State       *string
}

// UserEventResult is the user-event handler's answer. Data is nil when there is no reply for
// the client; State as in ConnectResult.
type UserEventResult struct {
	ContentType string
	Data        []byte
	State       *string
}

// RejectError reports that the handler answered an event with a status that is not a success
// (for connect: 401 and 403 reject the client with that status, anything else with 500).
type RejectError struct {
	// StatusCode is the handler's HTTP status.
	StatusCode int
	// Message is the start of the handler's plain-text answer, meant for the client.
	Message string
}

// Error describes the rejection: the status and, when there is one, the handler's message.
func (e *RejectError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("event handler answered %d", e.StatusCode)
	}
	return fmt.Sprintf("event handler answered %d: %s", e.StatusCode, e.Message)
}

// ErrNoHandler reports that no event handler of the hub matches the event.
var ErrNoHandler = errors.New("no event handler matches the event")

// ErrClosed reports that the dispatcher has been closed.
var ErrClosed = errors.New("upstream dispatcher is closed")

// ErrQueueFull reports that a connection has too many events waiting for delivery.
var ErrQueueFull = errors.New("too many upstream events are waiting for this connection")

// Dispatcher delivers events to the event handlers of the hubs. It is safe for concurrent use.
type Dispatcher struct {
	cfg     Config
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	valid   *validator

	// baseCtx bounds the non-blocking deliveries; Close cancels it when its own ctx ends.
	baseCtx    context.Context
	cancelBase context.CancelFunc
	miWarned   sync.Once

	mu     sync.Mutex
	conns  map[string]*connQueue // by hub + "\x00" + connection id
	peak   int                   // of conns, for mapshrink: a burst of connections does not keep its room
	closed bool
	wg     sync.WaitGroup
}

// NewDispatcher returns a Dispatcher for cfg.
func NewDispatcher(cfg Config) *Dispatcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = DefaultRetryDelays
	}
	if cfg.ValidationTimeout <= 0 {
		cfg.ValidationTimeout = DefaultValidationTimeout
	}
	if cfg.ValidationTTL <= 0 {
		cfg.ValidationTTL = DefaultValidationTTL
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.AccessKeys == nil {
		cfg.AccessKeys = func() []string { return nil }
	}
	if cfg.Origin == "" {
		cfg.Origin = "localhost"
	}
	if cfg.Store == nil {
		cfg.Store = settings.NewStore()
	}
	d := &Dispatcher{
		cfg:    cfg,
		client: cfg.HTTPClient,
		log:    cfg.Logger,
		now:    cfg.Now,
		conns:  map[string]*connQueue{},
	}
	if d.client == nil {
		d.client = defaultClient()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.baseCtx, d.cancelBase = context.WithCancel(context.Background())
	d.metrics = newMetrics(cfg.Registerer, d.log)
	d.valid = newValidator(d)
	return d
}

// defaultClient returns an HTTP client with a pooled transport that treats redirects as
// answers (a handler that redirects has failed).
func defaultClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// handlerFor returns the first event handler of hub (or of the "_default" hub when hub has no
// settings) that matches the system event or user event.
func (d *Dispatcher) handlerFor(hub, event string, system bool) (*webpubsub.EventHandlerSettings, bool) {
	hs, ok := d.cfg.Store.Get(hub)
	if !ok {
		if hs, ok = d.cfg.Store.Get(settings.DefaultHub); !ok {
			return nil, false
		}
	}
	for i := range hs.Properties.EventHandlers {
		h := &hs.Properties.EventHandlers[i]
		if system && settings.MatchSystemEvent(h.SystemEvents, event) {
			return h, true
		}
		if !system && settings.MatchUserEvent(h.UserEventPattern, event) {
			return h, true
		}
	}
	return nil, false
}

// HasHandler reports whether an event handler of hub takes the event: "connect", "connected"
// and "disconnected" name the system events, any other name a user event.
func (d *Dispatcher) HasHandler(hub, event string) bool {
	_, ok := d.handlerFor(hub, event, isSystemEvent(event))
	return ok
}

func isSystemEvent(event string) bool {
	switch strings.ToLower(event) {
	case settings.EventConnect, settings.EventConnected, settings.EventDisconnected:
		return true
	}
	return false
}

// Connect delivers the connect event and waits for the handler's answer. Without a connect
// handler it returns an empty result. A handler's non-success answer is a *RejectError.
func (d *Dispatcher) Connect(ctx context.Context, info ConnectionInfo, body ConnectEventBody) (*ConnectResult, error) {
	h, ok := d.handlerFor(info.Hub, settings.EventConnect, true)
	if !ok {
		return &ConnectResult{}, nil
	}
	if d.isClosed() {
		return nil, ErrClosed
	}
	payload, err := encodeConnectBody(body)
	if err != nil {
		return nil, err
	}
	ev := &event{
		kind:        kindConnect,
		info:        info,
		name:        settings.EventConnect,
		ceType:      webpubsub.EventTypeConnect,
		id:          0,
		contentType: contentTypeSystem,
		body:        payload,
	}
	resp, err := d.deliver(ctx, h, ev)
	if err != nil {
		return nil, err
	}
	return decodeConnectResult(resp)
}

// UserEvent delivers a user event after the events already queued for the connection and waits
// for the handler's answer. Without a matching handler it returns ErrNoHandler; a handler's
// non-success answer is a *RejectError.
func (d *Dispatcher) UserEvent(ctx context.Context, info ConnectionInfo, name, contentType string, data []byte) (*UserEventResult, error) {
	p, err := d.QueueUserEvent(ctx, info, name, contentType, data)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// PendingUserEvent is a user event queued by QueueUserEvent.
type PendingUserEvent struct {
	d  *Dispatcher
	ev *event
}

// QueueUserEvent queues a user event after the events already queued for the connection and
// returns at once; Wait returns the handler's answer. Queueing and waiting apart let a caller
// queue under a lock of its own (see hub.Conn.WhileOpen) without waiting under it. Without a
// matching handler it returns ErrNoHandler.
//
// The caller must call Wait: an event with nothing queued ahead of it is delivered by Wait, on
// the caller's goroutine, and the connection's later events wait for it.
func (d *Dispatcher) QueueUserEvent(ctx context.Context, info ConnectionInfo, name, contentType string, data []byte) (*PendingUserEvent, error) {
	h, ok := d.handlerFor(info.Hub, name, false)
	if !ok {
		return nil, ErrNoHandler
	}
	ev := &event{
		kind:        kindUser,
		info:        info,
		name:        name,
		ceType:      webpubsub.EventTypeUserPrefix + name,
		contentType: contentType,
		body:        data,
		handler:     h,
		ctx:         ctx,
		done:        make(chan result, 1),
	}
	if err := d.enqueue(ev, false); err != nil {
		return nil, err
	}
	return &PendingUserEvent{d: d, ev: ev}, nil
}

// Wait waits for the handler's answer to the event, or for the end of the context given to
// QueueUserEvent. A handler's non-success answer is a *RejectError. When nothing was queued
// ahead of the event, Wait delivers it itself; call it once.
func (p *PendingUserEvent) Wait() (*UserEventResult, error) {
	if p.ev.inline != nil {
		p.d.runInline(p.ev)
		p.ev.inline = nil
	}
	select {
	case r := <-p.ev.done:
		if r.err != nil {
			return nil, r.err
		}
		return decodeUserEventResult(r.resp)
	case <-p.ev.ctx.Done():
		return nil, p.ev.ctx.Err()
	}
}

// Connected queues the connected event of the connection and returns at once. Events of one
// connection reach the handler in the order they were queued.
func (d *Dispatcher) Connected(info ConnectionInfo) {
	ev := &event{
		kind:        kindConnected,
		info:        info,
		name:        settings.EventConnected,
		ceType:      webpubsub.EventTypeConnected,
		contentType: contentTypeSystem,
		body:        []byte("{}"),
	}
	if err := d.enqueue(ev, false); err != nil {
		d.metrics.dropped.WithLabelValues(kindConnected).Inc()
		d.log.Warn("Dropped upstream event", "event", settings.EventConnected, "hub", info.Hub, "conn", info.ConnectionID, "error", err)
	}
}

// Disconnected queues the disconnected event of the connection and returns at once. It is the
// connection's last event: once delivered, the dispatcher forgets the connection.
func (d *Dispatcher) Disconnected(info ConnectionInfo, reason string) {
	ev := &event{
		kind:        kindDisconnected,
		info:        info,
		name:        settings.EventDisconnected,
		ceType:      webpubsub.EventTypeDisconnected,
		contentType: contentTypeSystem,
		body:        encodeDisconnectedBody(reason),
	}
	if err := d.enqueue(ev, true); err != nil {
		d.metrics.dropped.WithLabelValues(kindDisconnected).Inc()
		d.log.Warn("Dropped upstream event", "event", settings.EventDisconnected, "hub", info.Hub, "conn", info.ConnectionID, "error", err)
	}
}

// Close stops accepting events and waits until the queued ones are delivered or ctx ends.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancelBase()
		return nil
	case <-ctx.Done():
		d.cancelBase()
		return fmt.Errorf("upstream dispatcher: %d connections still have events in delivery: %w", d.busyConnections(), ctx.Err())
	}
}

func (d *Dispatcher) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// pendingConnections returns the number of connections the dispatcher tracks (between their
// first event after connect and the delivery of disconnected).
func (d *Dispatcher) pendingConnections() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// busyConnections returns the number of connections with events being delivered.
func (d *Dispatcher) busyConnections() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, q := range d.conns {
		if q.running {
			n++
		}
	}
	return n
}
