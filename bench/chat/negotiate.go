// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type negotiateResult struct {
	requests int
	errors   int64
	rps      float64
	p50, p99 time.Duration
}

// benchNegotiate runs `concurrency` clients calling /negotiate in a loop
// (after a one-second warm-up) and reports requests/s and latency.
func benchNegotiate(ctx context.Context, base string, concurrency int, d time.Duration) (negotiateResult, error) {
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: concurrency * 2, MaxIdleConnsPerHost: concurrency * 2, IdleConnTimeout: time.Minute,
	}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	one := func(i int) (time.Duration, error) {
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/negotiate?id=user-"+strconv.Itoa(i), nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		var body struct {
			URL string `json:"url"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
		}
		if resp.StatusCode != http.StatusOK || body.URL == "" {
			return 0, fmt.Errorf("HTTP %d without a URL", resp.StatusCode)
		}
		return time.Since(start), nil
	}

	run := func(d time.Duration, record bool) ([]time.Duration, int64, time.Duration) {
		var wg sync.WaitGroup
		var errs atomic.Int64
		per := make([][]time.Duration, concurrency)
		start := time.Now()
		stop := start.Add(d)
		for w := range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(stop) && ctx.Err() == nil; i++ {
					lat, err := one(w*1_000_000 + i)
					if err != nil {
						errs.Add(1)
						continue
					}
					if record {
						per[w] = append(per[w], lat)
					}
				}
			}()
		}
		wg.Wait()
		var all []time.Duration
		for _, p := range per {
			all = append(all, p...)
		}
		return all, errs.Load(), time.Since(start)
	}

	run(time.Second, false) // warm-up: connections, JIT of the baseline
	lats, errs, elapsed := run(d, true)
	if len(lats) == 0 {
		return negotiateResult{}, fmt.Errorf("no successful request (%d errors)", errs)
	}
	sortDurations(lats)
	return negotiateResult{
		requests: len(lats), errors: errs,
		rps: float64(len(lats)) / elapsed.Seconds(),
		p50: percentile(lats, 50), p99: percentile(lats, 99),
	}, nil
}
