// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package compat

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/proc"
	"github.com/chathub/chathub/internal/testnats"
)

// replicaCount is how many `chathub pubsub` processes share the hubs in the replica tests.
const replicaCount = 3

// startReplicas runs replicaCount `chathub pubsub` processes sharing their hubs through a
// nats-server running in the test, behind a round-robin proxy; the returned service is the
// proxy's endpoint, which the replicas advertise.
func startReplicas(t *testing.T) *service {
	t.Helper()
	ns := testnats.Start(t, nil)
	p := startProxy(t)
	var svc *service
	for range replicaCount {
		s, log := launchService(t, "--nats-url", ns.ClientURL(), "--endpoint", "http://"+p.addr())
		id, addr := replicaOf(t, log)
		p.add(id, addr)
		svc = s
	}
	svc.waitHealthy(t)
	t.Cleanup(func() {
		// Otherwise the test would not have exercised the NATS hop.
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, b := range p.backends {
			if b.conns == 0 && !t.Failed() {
				t.Errorf("the proxy sent no connection to replica %s", b.id)
			}
		}
	})
	return svc
}

var (
	replicaLog = regexp.MustCompile(`msg="Connected to NATS".* replica=([A-Za-z0-9_-]+)`)
	listenLog  = regexp.MustCompile(`msg="Serving the PubSub service" listen=(\S+)`)
)

// replicaOf reads a replica's id and bound address from its log.
func replicaOf(t *testing.T, log *proc.SyncBuffer) (id, addr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := log.String()
		if m, l := replicaLog.FindStringSubmatch(s), listenLog.FindStringSubmatch(s); m != nil && l != nil {
			return m[1], l[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica id and listen address in the log of chathub pubsub:\n%s", redact(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy spreads TCP connections over the replicas in turn, as a Kubernetes Service does.
// A reliable client coming back to recover its connection (awps_connection_id) goes to the
// replica whose id starts the connection id: the affinity an ingress can give, without which
// recovery fails cleanly and the client starts a fresh connection.
type proxy struct {
	ln net.Listener

	mu       sync.Mutex
	backends []backend
	next     int
}

type backend struct {
	id, addr string
	conns    int // connections sent to it
}

func startProxy(t *testing.T) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) add(id, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends = append(p.backends, backend{id: id, addr: addr})
}

// pick returns the backend of a recovering connection, else the next one in turn.
func (p *proxy) pick(connID string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.backends) == 0 {
		return "", errors.New("no replica yet")
	}
	for i := range p.backends {
		if b := &p.backends[i]; connID != "" && strings.HasPrefix(connID, b.id) {
			b.conns++
			return b.addr, nil
		}
	}
	b := &p.backends[p.next%len(p.backends)]
	p.next++
	b.conns++
	return b.addr, nil
}

// serve reads the first request of a client connection, picks its replica and then copies
// bytes both ways: every later request of a keep-alive connection goes to the same replica.
func (p *proxy) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	addr, err := p.pick(req.URL.Query().Get("awps_connection_id"))
	if err != nil {
		return
	}
	b, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer func() { _ = b.Close() }()
	if err := req.Write(b); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(b, br)
		if tc, ok := b.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, b)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}
