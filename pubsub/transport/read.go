// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/internal/tokenbucket"
	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/pubsub/protocol"
)

// Disconnect reasons of sockets that ended on the client's side.
const (
	ReasonClosedByClient = "ClosedByClient"
	ReasonConnectionLost = "ConnectionLost"
)

// readLoop reads client frames with gorilla/websocket until the socket ends, then tells the
// connection why. It is the reader of sockets the system cannot poll (see Socket.Start); it
// holds a goroutine for the socket's whole life.
func (k *Socket) readLoop(c *hub.Conn) {
	defer k.t.socketEnded()
	ws := k.ws
	idle := k.idle()
	ws.SetReadLimit(protocol.MaxFrameBytes)
	_ = ws.SetReadDeadline(time.Now().Add(idle))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(idle)) })
	// gorilla's own ping and close replies, behind wmu so that they never land inside a batch.
	ws.SetPingHandler(func(data string) error {
		k.controlReply(websocket.PongMessage, []byte(data))
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		k.controlReply(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
		return nil
	})
	var err error
	for {
		var mt int
		var r io.Reader
		mt, r, err = ws.NextReader()
		if err != nil {
			break
		}
		var data []byte
		if data, err = io.ReadAll(r); err != nil {
			break
		}
		if k.deliver(c, mt == websocket.BinaryMessage, data) {
			_ = ws.SetReadDeadline(time.Now().Add(idle))
		}
	}
	k.readEnded(c, err)
}

// idle is how long a socket may stay silent: three keep-alive intervals.
func (k *Socket) idle() time.Duration { return 3 * k.t.cfg.KeepAlive }

// deliver hands one client data message to the Handler unless the connection is closing or
// the message breaks the rate limit (which closes the connection). It reports whether the
// Handler got it; only such messages (and pongs) keep the socket alive.
func (k *Socket) deliver(c *hub.Conn, binary bool, data []byte) bool {
	if k.closeReq.Load() != nil {
		// The service has closed the connection (or a recovered socket replaced this one):
		// the socket is read until it ends, but its frames go nowhere.
		return false
	}
	if !k.limit.take(time.Now()) {
		c.Close(protocol.ClosePolicy, protocol.ReasonRateLimited)
		return false // read until the socket ends, as above
	}
	counted := k.toHandler()
	k.t.cfg.Handler.Frame(c, binary, data)
	fromHandler(counted)
	k.touch() // the idle time of a polled socket starts again (readLoop sets its deadline)
	return true
}

// readEnded closes the socket after its reader stopped with err and tells the connection why.
func (k *Socket) readEnded(c *hub.Conn, err error) {
	_ = k.ws.NetConn().Close()
	k.gone.Store(true)
	recoverable, reason := classifyReadError(err)
	if errors.Is(err, websocket.ErrReadLimit) {
		c.Close(protocol.CloseTooBig, reason) // the 1009 close frame has been sent
		return
	}
	c.SocketGone(k, recoverable, reason)
}

// controlReply writes a control frame the reader owes the client, best effort, as gorilla's
// default handlers do (a protocol error's close frame, which gorilla writes itself, ends the
// connection anyway).
func (k *Socket) controlReply(mt int, data []byte) {
	k.wmu.Lock()
	defer k.wmu.Unlock()
	_ = k.ws.WriteControl(mt, data, time.Now().Add(time.Second))
}

// classifyReadError says whether a reliable client may come back after this read error and
// names the disconnect reason.
func classifyReadError(err error) (recoverable bool, reason string) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		switch ce.Code {
		case protocol.CloseNormal, protocol.CloseGoingAway, protocol.CloseNoStatus:
			return false, protocol.ReasonNormal
		}
		return true, ReasonClosedByClient
	case errors.Is(err, websocket.ErrReadLimit):
		return false, protocol.ReasonTooBig
	case errors.As(err, &ne) && ne.Timeout():
		return true, protocol.ReasonPingTimeout
	}
	return true, ReasonConnectionLost
}

// bucket limits one socket's data frames. It is used by the socket's reader only.
type bucket struct {
	rate, burst float64 // rate 0 => no limit
	b           tokenbucket.Bucket
}

func newBucket(rate float64, burst int) bucket {
	if rate <= 0 {
		return bucket{}
	}
	return bucket{rate: rate, burst: float64(burst), b: tokenbucket.New(float64(burst), time.Now())}
}

// take reports whether a frame arriving at now is within the limit, and counts it.
func (b *bucket) take(now time.Time) bool {
	return b.rate == 0 || b.b.Take(b.rate, b.burst, now)
}
