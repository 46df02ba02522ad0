// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

type messageResult struct {
	clients       int
	sent          int
	lost          int
	outOfOrder    int64
	p50, p99, max time.Duration
	// firstP50 and firstP99 are the latencies to the first client: the path through the
	// service and the chat server, without the fan-out to every client.
	firstP50, firstP99 time.Duration
	sustained          float64 // fully delivered messages per second
	deliveriesPerSec   float64
}

// tracker records, per message, how many clients have it and when the last
// one got it.
type tracker struct {
	sentAt   []atomic.Int64
	count    []atomic.Int32
	lastAt   []atomic.Int64
	firstAt  []atomic.Int64 // the first client's read: the path without the fan-out
	lastSeen atomic.Int64   // any frame, for quiet detection
	disorder atomic.Int64
}

func (tr *tracker) received(seq int, at int64) {
	tr.count[seq].Add(1)
	tr.firstAt[seq].CompareAndSwap(0, at)
	for {
		old := tr.lastAt[seq].Load()
		if at <= old || tr.lastAt[seq].CompareAndSwap(old, at) {
			return
		}
	}
}

type benchClient struct {
	id   string
	conn *websocket.Conn
}

// benchMessages connects n chat clients, lets `senders` of them take turns
// sending `rate` messages per second for d, and measures how long each
// message takes until every client has it. onSend, when not nil, is called
// right before the first message is sent.
func benchMessages(ctx context.Context, base string, n, rate int, d time.Duration, senders int, onSend func()) (messageResult, error) {
	total := rate * int(d/time.Second)
	if total <= 0 {
		return messageResult{}, fmt.Errorf("rate × duration is zero")
	}
	senders = min(senders, n)
	tr := &tracker{sentAt: make([]atomic.Int64, total), count: make([]atomic.Int32, total), lastAt: make([]atomic.Int64, total),
		firstAt: make([]atomic.Int64, total)}

	clients, err := connectAll(ctx, base, n, tr)
	defer func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			if c == nil {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); _ = c.conn.Close() }()
		}
		wg.Wait()
		// Let the leave notices pass before the next measurement.
		waitQuiet(ctx, tr, time.Second, 30*time.Second)
	}()
	if err != nil {
		return messageResult{}, err
	}
	// Let the join notices (one per client, to every client) settle.
	waitQuiet(ctx, tr, time.Second, 2*time.Minute)

	interval := time.Second / time.Duration(rate)
	if onSend != nil {
		onSend()
	}
	start := time.Now()
	for seq := range total {
		due := start.Add(time.Duration(seq) * interval)
		if w := time.Until(due); w > 0 {
			select {
			case <-ctx.Done():
				return messageResult{}, ctx.Err()
			case <-time.After(w):
			}
		}
		c := clients[seq%senders]
		msg := map[string]any{"type": "event", "event": "message", "dataType": "text",
			"data": "bench " + strconv.Itoa(seq)}
		tr.sentAt[seq].Store(time.Now().UnixNano())
		if err := c.conn.WriteJSON(msg); err != nil {
			return messageResult{}, fmt.Errorf("client %s sending: %w", c.id, err)
		}
	}
	// Wait for every delivery, up to 30 s after the last send.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if delivered(tr, n) == total {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	res := messageResult{clients: n, sent: total, outOfOrder: tr.disorder.Load()}
	var lats, firsts []time.Duration
	var firstSend, lastFull int64
	deliveries := 0
	for seq := range total {
		c := int(tr.count[seq].Load())
		deliveries += min(c, n)
		res.lost += max(0, n-c)
		s := tr.sentAt[seq].Load()
		if firstSend == 0 || s < firstSend {
			firstSend = s
		}
		if c >= n {
			l := tr.lastAt[seq].Load()
			lats = append(lats, time.Duration(l-s))
			firsts = append(firsts, time.Duration(tr.firstAt[seq].Load()-s))
			lastFull = max(lastFull, l)
		}
	}
	if len(lats) == 0 {
		return res, fmt.Errorf("no message reached all %d clients (%d deliveries lost)", n, res.lost)
	}
	sortDurations(lats)
	res.p50, res.p99, res.max = percentile(lats, 50), percentile(lats, 99), lats[len(lats)-1]
	sortDurations(firsts)
	res.firstP50, res.firstP99 = percentile(firsts, 50), percentile(firsts, 99)
	window := time.Duration(lastFull - firstSend).Seconds()
	res.sustained = float64(len(lats)) / window
	res.deliveriesPerSec = float64(deliveries) / window
	return res, nil
}

func delivered(tr *tracker, n int) int {
	full := 0
	for i := range tr.count {
		if int(tr.count[i].Load()) >= n {
			full++
		}
	}
	return full
}

func waitQuiet(ctx context.Context, tr *tracker, quiet, limit time.Duration) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) && ctx.Err() == nil {
		if time.Since(time.Unix(0, tr.lastSeen.Load())) > quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// connectAll negotiates and connects n clients, 32 at a time.
func connectAll(ctx context.Context, base string, n int, tr *tracker) ([]*benchClient, error) {
	clients := make([]*benchClient, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	httpc := &http.Client{Timeout: 10 * time.Second}
	dialer := websocket.Dialer{Subprotocols: []string{"json.webpubsub.azure.v1"}, HandshakeTimeout: 30 * time.Second}
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := fmt.Sprintf("u%04d", i)
			resp, err := httpc.Get(base + "/negotiate?id=" + url.QueryEscape(id))
			if err != nil {
				errs <- err
				return
			}
			var body struct {
				URL string `json:"url"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err != nil {
				errs <- fmt.Errorf("negotiate: %w", err)
				return
			}
			conn, _, err := dialer.DialContext(ctx, body.URL, nil)
			if err != nil {
				errs <- fmt.Errorf("dial: %w", err)
				return
			}
			c := &benchClient{id: id, conn: conn}
			clients[i] = c
			go readLoop(c, tr)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return clients, err
	}
	return clients, nil
}

// readLoop reads the client's frames and records chat messages. The load clients share this
// process (and its two cores) with each other: whatever a client does after reading a frame
// delays the clients whose frames wait behind it, and the measured latency is that of the last
// client. So the time is taken right after the read, the frame is read into a buffer the client
// reuses, and chatSeq reads the bench messages without a JSON decoder (4 µs a frame, 0.4 ms per
// message to 100 clients, before).
func readLoop(c *benchClient, tr *tracker) {
	lastBySender := map[string]int{}
	var buf bytes.Buffer
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		now := time.Now().UnixNano()
		tr.lastSeen.Store(now)
		from, seq, ok := chatSeq(buf.Bytes())
		if !ok || seq >= len(tr.count) {
			continue
		}
		if last, seen := lastBySender[from]; seen && seq <= last {
			tr.disorder.Add(1)
		}
		lastBySender[from] = seq
		tr.received(seq, now)
	}
}

// chatPrefix starts every frame in which the service delivers a chat message of the Go chat
// server (a JSON-encoded chatserver.ChatMessage from the server, protocol/outbound.go): the
// sender's id follows.
const chatPrefix = `{"type":"message","from":"server","dataType":"json","data":{"from":"`

// chatSeq returns the sender and sequence number of a bench message ("bench 12") in a frame.
// Frames laid out as the service and the Go chat server write them are read without a JSON
// decoder (the rest of such a frame is taken to be the JSON the service writes: the benchmark
// measures the service, whose encoding its own tests check); any other frame (another layout,
// escapes in the sender) is decoded.
func chatSeq(b []byte) (from string, seq int, ok bool) {
	if rest, found := bytes.CutPrefix(b, []byte(chatPrefix)); found && bytes.HasSuffix(rest, []byte("}}")) {
		if i := bytes.IndexAny(rest, `"\`); i > 0 && rest[i] == '"' {
			if digits, found := bytes.CutPrefix(rest[i:], []byte(`","message":"bench `)); found {
				n := 0
				for n < len(digits) && n < 9 && digits[n] >= '0' && digits[n] <= '9' {
					n++
				}
				if n > 0 && n < len(digits) && digits[n] == '"' && (n == 1 || digits[0] != '0') {
					seq, _ = strconv.Atoi(string(digits[:n]))
					return string(rest[:i]), seq, true
				}
			}
		}
	}
	return decodeChatSeq(b)
}

// decodeChatSeq is chatSeq with a JSON decoder.
func decodeChatSeq(b []byte) (from string, seq int, ok bool) {
	type frame struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	type chat struct {
		From    string `json:"from"`
		Message string `json:"message"`
	}
	var f frame
	if json.Unmarshal(b, &f) != nil || f.Type != "message" {
		return "", 0, false
	}
	var m chat
	if json.Unmarshal(f.Data, &m) != nil || m.From == "" {
		return "", 0, false
	}
	s, found := strings.CutPrefix(m.Message, "bench ")
	if !found {
		return "", 0, false
	}
	seq, err := strconv.Atoi(s)
	if err != nil || seq < 0 {
		return "", 0, false
	}
	return m.From, seq, true
}
