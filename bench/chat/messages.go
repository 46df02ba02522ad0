// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
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
	clients          int
	sent             int
	lost             int
	outOfOrder       int64
	p50, p99, max    time.Duration
	sustained        float64 // fully delivered messages per second
	deliveriesPerSec float64
}

// tracker records, per message, how many clients have it and when the last
// one got it.
type tracker struct {
	sentAt   []atomic.Int64
	count    []atomic.Int32
	lastAt   []atomic.Int64
	lastSeen atomic.Int64 // any frame, for quiet detection
	disorder atomic.Int64
}

func (tr *tracker) received(seq int, at int64) {
	tr.count[seq].Add(1)
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
	tr := &tracker{sentAt: make([]atomic.Int64, total), count: make([]atomic.Int32, total), lastAt: make([]atomic.Int64, total)}

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
	var lats []time.Duration
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
			lastFull = max(lastFull, l)
		}
	}
	if len(lats) == 0 {
		return res, fmt.Errorf("no message reached all %d clients (%d deliveries lost)", n, res.lost)
	}
	sortDurations(lats)
	res.p50, res.p99, res.max = percentile(lats, 50), percentile(lats, 99), lats[len(lats)-1]
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

// readLoop decodes the client's frames and records chat messages.
func readLoop(c *benchClient, tr *tracker) {
	type frame struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	type chat struct {
		From    string `json:"from"`
		Message string `json:"message"`
	}
	lastBySender := map[string]int{}
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		tr.lastSeen.Store(now)
		var f frame
		if json.Unmarshal(b, &f) != nil || f.Type != "message" {
			continue
		}
		var m chat
		if json.Unmarshal(f.Data, &m) != nil || m.From == "" {
			continue
		}
		s, ok := strings.CutPrefix(m.Message, "bench ")
		if !ok {
			continue
		}
		seq, err := strconv.Atoi(s)
		if err != nil || seq < 0 || seq >= len(tr.count) {
			continue
		}
		if last, seen := lastBySender[m.From]; seen && seq <= last {
			tr.disorder.Add(1)
		}
		lastBySender[m.From] = seq
		tr.received(seq, now)
	}
}
