// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package transport is the WebSocket side of the PubSub service's client connections: the
// HTTP upgrade, the reading of client frames with their control frames (ping, pong and close
// replies; on Linux through one epoll instance, with a goroutine per socket only while it has
// bytes to read), and a writer pool that writes each socket's queued frames in batches, with one
// vectored write per batch.
//
// It knows connections only through pubsub/hub (the send queue it drains, the connection it
// tells when its socket ends) and frames through pubsub/protocol. It knows nothing of tokens,
// permissions, event handlers or the REST API: what a client frame means is decided by the
// Handler the service passes to New.
package transport

import (
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
)

// Handler is what a Transport calls back into: the service's handling of client frames and
// its count of frames sent.
type Handler interface {
	// Frame acts on one data message of c's client. It runs on the socket's reader (one
	// goroutine at a time per socket), so the messages of one socket are handled in order,
	// one at a time; data is the Handler's to keep.
	Frame(c *hub.Conn, binary bool, data []byte)
	// FramesSent reports n frames written to a client socket.
	FramesSent(n int)
}

// Config configures a Transport.
type Config struct {
	// Handler receives client frames and write counts; required.
	Handler Handler
	// KeepAlive is the interval of server pings; a socket silent for three intervals ends
	// with PingTimeout. Required.
	KeepAlive time.Duration
	// WriteTimeout bounds writing a batch that did not fit the socket buffer, and how long a
	// closing socket waits for its queued frames. Required.
	WriteTimeout time.Duration
	// Writers is the most goroutines writing to sockets at once; 0 or less => max(4, 2×GOMAXPROCS).
	Writers int
	// WriteCoalesce is how long a socket that was just written gathers further frames before
	// its next write: a socket is written at most about once per WriteCoalesce, and a frame
	// waits at most that long for the gathering. Frames that come further apart than that
	// are written at once. 0 => DefaultWriteCoalesce; negative => every frame is written as
	// soon as a writer is free.
	WriteCoalesce time.Duration
	// MessageRate is how many data frames per second a socket may send on average; a socket
	// that sends more than MessageBurst frames beyond that rate is closed (RateLimited). 0 or
	// less => no limit.
	MessageRate float64
	// MessageBurst is how many frames above MessageRate a socket may send at once; less than
	// 1 => 1.
	MessageBurst int
}

// DefaultWriteCoalesce is Config.WriteCoalesce when it is 0: a frame that follows another to
// the same socket within 2 ms waits at most 2 ms more, and a socket is written at most about
// 500 times a second, however many frames it gets (in the many-senders chat benchmark, 3 ms
// cut the CPU of the whole path by 30 % at 800 messages a second, 1 ms by nothing).
const DefaultWriteCoalesce = 2 * time.Millisecond

// Transport upgrades client requests to sockets and writes their frames with its writer pool.
// A service has one; its methods are safe for concurrent use.
type Transport struct {
	cfg      Config
	upgrader websocket.Upgrader
	pool     *writePool
	sockets  atomic.Int64 // started sockets whose reader has not ended
	rel      *releaser    // gives the memory of closed sockets back to the system
}

// New returns a Transport with its own writer pool (whose workers start on demand).
func New(cfg Config) *Transport {
	if cfg.Writers <= 0 {
		cfg.Writers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	cfg.MessageBurst = max(cfg.MessageBurst, 1)
	switch {
	case cfg.WriteCoalesce == 0:
		cfg.WriteCoalesce = DefaultWriteCoalesce
	case cfg.WriteCoalesce < 0:
		cfg.WriteCoalesce = 0
	}
	t := &Transport{
		cfg: cfg,
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   gorillaReadBuffer,
			WriteBufferSize:  4096,
			WriteBufferPool:  &sync.Pool{},
			CheckOrigin:      func(*http.Request) bool { return true }, // clients authenticate with tokens
		},
		pool: newWritePool(cfg.Writers, cfg.WriteCoalesce),
	}
	t.rel = newReleaser(t.sockets.Load)
	return t
}

// socketEnded counts a socket whose reader has ended.
func (t *Transport) socketEnded() { t.rel.closed(t.sockets.Add(-1)) }

// IsUpgrade reports whether r asks for a WebSocket.
func IsUpgrade(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// Subprotocols returns the subprotocols r offers, in the client's order of preference.
func Subprotocols(r *http.Request) []string { return websocket.Subprotocols(r) }

// Upgrade completes the WebSocket handshake of r with subprotocol ("" for none) and returns the
// socket, whose frames are of the given kind. On error the client has had its HTTP answer.
// The socket does nothing until Attach and Start.
func (t *Transport) Upgrade(w http.ResponseWriter, r *http.Request, subprotocol string, kind protocol.Kind) (*Socket, error) {
	var h http.Header
	if subprotocol != "" {
		h = http.Header{"Sec-Websocket-Protocol": {subprotocol}}
	}
	ws, err := t.upgrader.Upgrade(w, r, h)
	if err != nil {
		return nil, err
	}
	return newSocket(t, ws, kind), nil
}

// HelpWrite writes the first queued sockets (at most yieldEvery) on the caller's goroutine,
// which should have just queued frames for many sockets and have nothing more urgent to do:
// they leave at once instead of after a worker is scheduled (see writePool.help).
func (t *Transport) HelpWrite() { t.pool.help(yieldEvery) }

// Sockets returns the number of sockets whose reader is still running.
func (t *Transport) Sockets() int64 { return t.sockets.Load() }

// Stats are counters of a Transport's writer pool.
type Stats struct {
	// Writers is the most goroutines the pool writes with at once.
	Writers int
	// HandedOff counts the batches that did not fit a socket buffer and were finished by a
	// goroutine of their own.
	HandedOff int64
	// Coalesced counts the times a socket that had been written less than WriteCoalesce
	// before waited to gather frames (see Config.WriteCoalesce).
	Coalesced int64
}

// Stats returns the counters of the writer pool.
func (t *Transport) Stats() Stats {
	return Stats{Writers: t.pool.max, HandedOff: t.pool.handoffs.Load(), Coalesced: t.pool.deferrals.Load()}
}
