// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command wsfloor is the naive floor the PubSub load harness (bench/wpsload) compares the
// PubSub service and Centrifugo with: a WebSocket server with no protocol at all. Every
// connection gets a goroutine that writes the frames queued for it, one write(2) per
// delivery of a WebSocket frame built once per publish; POST /publish queues its body (as
// one text frame) for every connection. It never reads what clients send, sends no pings
// and checks no tokens. It listens on a loopback address only and prints its base URL
// (http://127.0.0.1:<port>) on stdout.
//
//	wsfloor --listen 127.0.0.1:0
package main

import (
	"crypto/sha1" //nolint:gosec // G505: SHA-1 is what RFC 6455 prescribes for the accept key
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// queueSize is the number of frames queued per connection; a publish that finds a queue
// full drops the frame for that connection (the harness counts it as lost).
const queueSize = 256

// maxPayload bounds a published body.
const maxPayload = 64 << 10

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "wsfloor:", err)
		os.Exit(1)
	}
}

func run(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: the floor server listens on a loopback IP only", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	s := &server{conns: map[*conn]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.upgrade)
	mux.HandleFunc("POST /publish", s.publish)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// server is the set of connections.
type server struct {
	mu      sync.Mutex
	conns   map[*conn]struct{}
	dropped atomic.Int64
}

// conn is one WebSocket connection and its queue of frames.
type conn struct {
	nc    net.Conn
	queue chan []byte
}

func (s *server) upgrade(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "a WebSocket handshake is expected", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot take over the connection", http.StatusInternalServerError)
		return
	}
	nc, _, err := hj.Hijack()
	if err != nil {
		return
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
		_ = nc.Close()
		return
	}
	c := &conn{nc: nc, queue: make(chan []byte, queueSize)}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	// This goroutine (the handler's) is the connection's writer from now on.
	for f := range c.queue {
		if _, err := nc.Write(f); err != nil {
			break
		}
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	_ = nc.Close()
}

func (s *server) publish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		}
		return
	}
	f := textFrame(body)
	s.mu.Lock()
	for c := range s.conns {
		select {
		case c.queue <- f:
		default:
			s.dropped.Add(1)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// acceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // G401: see the import
	return base64.StdEncoding.EncodeToString(h[:])
}

// textFrame returns payload as one unmasked, final text frame (RFC 6455 §5.2).
func textFrame(payload []byte) []byte {
	n := len(payload)
	var f []byte
	switch {
	case n < 126:
		f = append(make([]byte, 0, 2+n), 0x81, byte(n))
	case n < 1<<16:
		f = append(make([]byte, 0, 4+n), 0x81, 126, byte(n>>8), byte(n)) //nolint:gosec // G115: n < 1<<16 in this case
	default:
		f = append(make([]byte, 0, 10+n), 0x81, 127)
		for i := 7; i >= 0; i-- {
			f = append(f, byte(uint64(n)>>(8*i))) //nolint:gosec // G115: n is a length, never negative
		}
	}
	return append(f, payload...)
}
