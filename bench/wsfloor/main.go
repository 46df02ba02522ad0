// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Command wsfloor is the naive floor the PubSub load harness (bench/wpsload) compares the
// PubSub service and Centrifugo with: a WebSocket server with no protocol at all. Every
// connection gets a goroutine that writes the frames queued for it, one write(2) per
// delivery of a WebSocket frame built once per publish; POST /publish queues its body (as
// one text frame) for every connection. It never reads what clients send, sends no pings
// and checks no tokens. It listens on a loopback address only and prints its base URL
// (http://127.0.0.1:<port>) on stdout.
//
// It is also the floor of the whole chat path that the chat benchmark (bench/chat) compares
// the PubSub service and the chat server with: two loopback HTTP hops and one fan-out, with
// nothing else. With --upstream, every connection also gets a reader goroutine that POSTs each
// text frame a client sends to that URL (keep-alive connections, the client's ?user= in
// X-User), and GET /negotiate?id=… answers the WebSocket URL of that user. With --relay, it is
// the floor's chat server instead: POST /eventhandler takes such a frame (a json.webpubsub
// client event), turns its data into a chat message from the user in the JSON layout the
// PubSub service delivers the Go chat server's messages in, and POSTs it to the floor's
// /publish before it answers.
//
//	wsfloor --listen 127.0.0.1:0
//	wsfloor --listen 127.0.0.1:0 --upstream http://127.0.0.1:<relay port>/eventhandler
//	wsfloor --listen 127.0.0.1:0 --relay http://127.0.0.1:<floor port>
package main

import (
	"bufio"
	"bytes"
	"crypto/sha1" //nolint:gosec // G505: SHA-1 is what RFC 6455 prescribes for the accept key
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	upstream := flag.String("upstream", "", "chat floor: POST every text frame a client sends to this loopback URL")
	relay := flag.String("relay", "", "chat floor: be its chat server, publishing the chat messages to the floor at this loopback base URL")
	flag.Parse()
	if err := run(*listen, *upstream, *relay); err != nil {
		fmt.Fprintln(os.Stderr, "wsfloor:", err)
		os.Exit(1)
	}
}

func run(listen, upstream, relay string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: the floor server listens on a loopback IP only", listen)
	}
	for _, u := range []struct{ flag, url string }{{"--upstream", upstream}, {"--relay", relay}} {
		if err := checkLoopbackURL(u.url); err != nil {
			return fmt.Errorf("%s %q: %w", u.flag, u.url, err)
		}
	}
	if upstream != "" && relay != "" {
		return errors.New("--upstream and --relay are two different processes of the chat floor; give one")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	srv := &http.Server{Handler: newHandler(upstream, relay), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// newHandler is the floor server, the chat floor's server (upstream given) or its chat server
// (relay given).
func newHandler(upstream, relay string) http.Handler {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	mux := http.NewServeMux()
	if relay != "" {
		r := &relayServer{publish: strings.TrimSuffix(relay, "/") + "/publish", client: client}
		mux.HandleFunc("POST /eventhandler", r.event)
	} else {
		s := &server{conns: map[*conn]struct{}{}, upstream: upstream, client: client}
		mux.HandleFunc("GET /ws", s.upgrade)
		mux.HandleFunc("POST /publish", s.publish)
		if upstream != "" {
			mux.HandleFunc("GET /negotiate", s.negotiate)
		}
	}
	return mux
}

// checkLoopbackURL accepts "" (not given) and http URLs of a loopback IP.
func checkLoopbackURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
		return errors.New("an http URL of a loopback IP is expected")
	}
	return nil
}

// server is the set of connections.
type server struct {
	mu      sync.Mutex
	conns   map[*conn]struct{}
	dropped atomic.Int64

	upstream string       // chat floor: where client frames go ("" : not read)
	client   *http.Client // for upstream
}

// negotiate answers the WebSocket URL of the user ?id= (chat floor), in the shape of the chat
// server's /negotiate.
func (s *server) negotiate(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if id == "" {
		http.Error(w, "the id query parameter is required", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"url": "ws://" + r.Host + "/ws?user=" + url.QueryEscape(id)})
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
	// Registered before the handshake's answer: a publish after the client's dial returned
	// reaches it.
	c := &conn{nc: nc, queue: make(chan []byte, queueSize)}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = nc.Close()
		return
	}
	if s.upstream != "" {
		go s.readFrames(c, r.URL.Query().Get("user"))
	}
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

// readFrames reads the client's frames (chat floor) and POSTs each text frame's payload
// upstream, one at a time, until the client closes or sends something else than a short
// final text frame; then it closes the connection (its writer ends too).
func (s *server) readFrames(c *conn, user string) {
	defer func() { _ = c.nc.Close() }()
	br := bufio.NewReader(c.nc)
	var hdr [14]byte
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return
		}
		op, n := hdr[0]&0x0f, int(hdr[1]&0x7f)
		if hdr[0]&0x80 == 0 || op != 0x1 || hdr[1]&0x80 == 0 || n > 125 {
			return // the floor takes only short, final, masked text frames (the chat's messages)
		}
		if _, err := io.ReadFull(br, hdr[2:6]); err != nil {
			return
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= hdr[2+(i&3)]
		}
		req, err := http.NewRequest(http.MethodPost, s.upstream, bytes.NewReader(payload))
		if err != nil {
			return
		}
		req.Header.Set("X-User", user)
		resp, err := s.client.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wsfloor: upstream:", err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// relayServer is the chat floor's chat server.
type relayServer struct {
	publish string
	client  *http.Client
}

// floorMessage is what the relay publishes: the layout in which the PubSub service delivers
// a chat message of the Go chat server (bench/chat reads it without a JSON decoder).
type floorMessage struct {
	Type     string `json:"type"`
	From     string `json:"from"`
	DataType string `json:"dataType"`
	Data     struct {
		From    string `json:"from"`
		Message string `json:"message"`
	} `json:"data"`
}

// event turns a client's event into a chat message for everyone and publishes it.
func (r *relayServer) event(w http.ResponseWriter, req *http.Request) {
	var in struct {
		Data string `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxPayload)).Decode(&in); err != nil {
		http.Error(w, "a JSON client event is expected: "+err.Error(), http.StatusBadRequest)
		return
	}
	m := floorMessage{Type: "message", From: "server", DataType: "json"}
	m.Data.From, m.Data.Message = req.Header.Get("X-User"), in.Data
	body, err := json.Marshal(m)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := r.client.Post(r.publish, "application/json", bytes.NewReader(body))
	if err != nil {
		http.Error(w, "publishing: "+err.Error(), http.StatusBadGateway)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
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
