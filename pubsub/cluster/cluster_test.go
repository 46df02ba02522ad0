// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chathub/chathub/internal/testnats"
)

func startNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	return testnats.Start(t, nil)
}

// recorder is a Handler that records the Ops it applies and answers Found for Key "mine".
type recorder struct {
	mu      sync.Mutex
	applied []*Op
	joined  []string
}

func (r *recorder) Apply(op *Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, op)
}

func (r *recorder) Answer(op *Op) Reply { return Reply{Found: op.Key == "mine"} }

func (r *recorder) Joined(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.joined = append(r.joined, id)
}

func (r *recorder) ops() []*Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Op(nil), r.applied...)
}

// startReplica starts a Cluster on url with a recorder and a registry of its own.
func startReplica(t *testing.T, url string) (*Cluster, *recorder, *prometheus.Registry) {
	t.Helper()
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	c, err := New(Config{URL: url, Handler: rec, Registerer: reg, Heartbeat: 50 * time.Millisecond, RequestTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, rec, reg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpWireForm(t *testing.T) {
	t.Parallel()
	op := &Op{Kind: KindSend, Hub: "Chat.Room", Target: TargetGroup, Key: "g\n1", Excluded: []string{"a"}, Replica: "r1",
		SentNanos: 42, Data: []byte("line one\nline two\x00")}
	b, err := op.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Key != op.Key || got.Hub != op.Hub || !bytes.Equal(got.Data, op.Data) || got.Excluded[0] != "a" || got.SentNanos != 42 {
		t.Fatalf("decoded %+v, want %+v", got, op)
	}
	for _, bad := range []string{"", "no head", `{"k":"send"}` + "\n", `{"rep":"r"}` + "\n", "{\n"} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) succeeded", bad)
		}
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{ //nolint:gosec // G101: made-up passwords to redact
		"nats://a:4222":                             "nats://a:4222",
		"nats://user:pw@a:4222,tls://tok@b:4222":    "nats://***@a:4222,tls://***@b:4222",
		"user:pw@host:4222":                         "***@host:4222",
		"nats://u:p@ss@a:4222":                      "nats://***@a:4222",
		"nats://a:4222,nats://u:secret@b:4222/path": "nats://a:4222,nats://***@b:4222/path",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublishReachesOthersInOrder publishes from one replica: each replica, the publisher
// included, applies every Op once, in order.
func TestPublishReachesOthersInOrder(t *testing.T) {
	ns := startNATS(t)
	a, recA, regA := startReplica(t, ns.ClientURL())
	b, recB, _ := startReplica(t, ns.ClientURL())
	_, recC, _ := startReplica(t, ns.ClientURL())
	waitFor(t, "the replicas to know each other", func() bool { return a.Peers() == 2 })
	const n = 500
	for i := range n {
		if err := a.Publish(&Op{Kind: KindSend, Hub: "chat", Target: TargetAll, Data: []byte(strconv.Itoa(i))}, i == n-1); err != nil {
			t.Fatal(err)
		}
	}
	for name, rec := range map[string]*recorder{"A": recA, "B": recB, "C": recC} {
		waitFor(t, name+" to apply every op", func() bool { return len(rec.ops()) >= n })
		for i, op := range rec.ops() {
			if string(op.Data) != strconv.Itoa(i) || op.Replica != a.ID() {
				t.Fatalf("replica %s applied op %d with data %q from %s, want %d from %s", name, i, op.Data, op.Replica, i, a.ID())
			}
		}
	}
	if got := testutil.ToFloat64(a.metrics.published.WithLabelValues(KindSend)); got != n {
		t.Errorf("published{send} = %v, want %d", got, n)
	}
	if got := testutil.ToFloat64(b.metrics.received.WithLabelValues(KindSend)); got != n {
		t.Errorf("received{send} on B = %v, want %d", got, n)
	}
	if c, err := testutil.GatherAndCount(regA, "chathub_pubsub_nats_lag_seconds", "chathub_pubsub_nats_connected"); err != nil || c != 2 {
		t.Errorf("A registers %d of the lag and connected metrics (%v)", c, err)
	}
}

// TestGatherAndAReplicaThatVanishes asks every replica; a replica killed without saying
// goodbye makes requests incomplete until its heartbeats are missed, then it is forgotten.
func TestGatherAndAReplicaThatVanishes(t *testing.T) {
	ns := startNATS(t)
	a, _, _ := startReplica(t, ns.ClientURL())
	b, recB, _ := startReplica(t, ns.ClientURL())
	c, _, _ := startReplica(t, ns.ClientURL())
	waitFor(t, "the replicas to know each other", func() bool { return a.Peers() == 2 && b.Peers() == 2 && c.Peers() == 2 })
	recB.mu.Lock()
	if len(recB.joined) != 2 {
		t.Errorf("B was told of %d joining replicas, want 2 (A and C)", len(recB.joined))
	}
	recB.mu.Unlock()

	replies, err := a.Gather(&Op{Kind: KindExists, Hub: "chat", Target: TargetConn, Key: "other"}, nil)
	if err != nil || len(replies) != 3 {
		t.Fatalf("Gather = %v, %v; want the answers of A, B and C", replies, err)
	}
	replies, err = a.Gather(&Op{Kind: KindExists, Hub: "chat", Target: TargetConn, Key: "mine"}, func(r Reply) bool { return r.Found })
	if err != nil || len(replies) != 1 || !replies[0].Found {
		t.Fatalf("Gather stopping at the first found = %v, %v", replies, err)
	}

	// c is killed: its connection goes, no goodbye (Close will then do nothing).
	c.stopOnce.Do(func() {
		close(c.stop)
		c.wg.Wait()
		c.nc.Close()
	})
	start := time.Now()
	_, err = a.Gather(&Op{Kind: KindExists, Hub: "chat", Target: TargetUser, Key: "u"}, nil)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Gather right after a replica vanished: %v, want ErrIncomplete", err)
	}
	if waited := time.Since(start); waited < a.cfg.RequestTimeout {
		t.Fatalf("Gather gave up after %s, before the request timeout", waited)
	}
	waitFor(t, "the vanished replica to be forgotten", func() bool { return a.Peers() == 1 })
	if replies, err := a.Gather(&Op{Kind: KindExists, Hub: "chat", Target: TargetUser, Key: "u"}, nil); err != nil || len(replies) != 2 {
		t.Fatalf("Gather once the vanished replica is forgotten = %v, %v; want the answers of A and B", replies, err)
	}

	// b leaves properly: forgotten at once.
	b.Close()
	waitFor(t, "the replica that left to be forgotten", func() bool { return a.Peers() == 0 })
	if replies, err := a.Gather(&Op{Kind: KindExists, Hub: "chat"}, nil); err != nil || len(replies) != 1 || replies[0].Replica != a.ID() {
		t.Fatalf("Gather alone = %v, %v; want its own answer", replies, err)
	}
}

// TestNotConnected stops NATS: the replica is not ready and refuses to publish or ask,
// until NATS is back.
func TestNotConnected(t *testing.T) {
	ns := startNATS(t)
	a, _, _ := startReplica(t, ns.ClientURL())
	if !a.Ready() {
		t.Fatal("not ready while connected")
	}
	ns.Shutdown()
	waitFor(t, "the replica to notice", func() bool { return !a.Ready() })
	if err := a.Publish(&Op{Kind: KindSend, Hub: "chat"}, true); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Publish without NATS: %v", err)
	}
	if _, err := a.Gather(&Op{Kind: KindExists, Hub: "chat"}, nil); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Gather without NATS: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no URL":           {Handler: &recorder{}},
		"no handler":       {URL: "nats://127.0.0.1:1"},
		"a half TLS pair":  {URL: "nats://127.0.0.1:1", Handler: &recorder{}, TLSCertFile: "/c.pem"},
		"nothing to reach": {URL: "nats://user:hunter2@127.0.0.1:1", Handler: &recorder{}, RequestTimeout: 100 * time.Millisecond}, //nolint:gosec // G101: a made-up password that must not show
	} {
		_, err := New(cfg)
		if err == nil {
			t.Errorf("%s: New succeeded", name)
			continue
		}
		if msg := fmt.Sprint(err); bytes.Contains([]byte(msg), []byte("hunter2")) {
			t.Errorf("%s: the error shows the password: %s", name, msg)
		}
	}
}
