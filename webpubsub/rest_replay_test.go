// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// staleConnServer is a raw HTTP/1.1 server on 127.0.0.1. On its first connection it answers
// the first request with keep-alive and then, as a service closing an idle connection (its
// idle timeout, or a replica shutting down) does, closes the connection when the next request
// arrives, without answering it. Every later connection answers each request with 202.
type staleConnServer struct {
	ln       net.Listener
	answered chan string // the body of each request answered
	dropped  chan string // the body of the request dropped on the closing connection
}

func newStaleConnServer(t *testing.T) *staleConnServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &staleConnServer{ln: ln, answered: make(chan string, 16), dropped: make(chan string, 16)}
	t.Cleanup(func() { _ = ln.Close() })
	go s.serve()
	return s
}

func (s *staleConnServer) serve() {
	for first := true; ; first = false {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.serveConn(c, first)
	}
}

func (s *staleConnServer) serveConn(c net.Conn, closeAfterFirst bool) {
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	for n := 0; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		if closeAfterFirst && n == 1 {
			s.dropped <- string(body)
			return
		}
		s.answered <- string(body)
		if _, err := io.WriteString(c, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"); err != nil {
			return
		}
	}
}

func (s *staleConnServer) client(t *testing.T) *Client {
	t.Helper()
	cs, err := ParseConnectionString("Endpoint=http://" + s.ln.Addr().String() + ";AccessKey=" + testKey + ";Version=1.0;")
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransport()
	t.Cleanup(tr.CloseIdleConnections)
	c, err := NewClient(cs, "chat", &ClientOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func next(t *testing.T, ch chan string, what string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10 s", what)
		return ""
	}
}

// TestSendIsSentAgainWhenItsPooledConnectionCloses checks that a message sent on a pooled
// keep-alive connection that the service closes as the request goes out is sent again on a
// new connection: the caller sees success and the service gets the message, instead of the
// caller seeing EOF and the message being lost.
func TestSendIsSentAgainWhenItsPooledConnectionCloses(t *testing.T) {
	s := newStaleConnServer(t)
	c := s.client(t)
	ctx := context.Background()
	if err := c.SendToAll(ctx, TextContent("first"), nil); err != nil {
		t.Fatalf("first send: %v", err)
	}
	if got := next(t, s.answered, "answer to the first send"); got != "first" {
		t.Fatalf("the service got %q, want first", got)
	}
	if err := c.SendToAll(ctx, TextContent("second"), nil); err != nil {
		t.Fatalf("second send, whose pooled connection closed: %v", err)
	}
	if got := next(t, s.dropped, "dropped request"); got != "second" {
		t.Fatalf("the closing connection dropped %q, want second", got)
	}
	if got := next(t, s.answered, "answer to the second send"); got != "second" {
		t.Fatalf("the service got %q on the new connection, want second", got)
	}
	select {
	case extra := <-s.answered:
		t.Fatalf("the service got %q once more", extra)
	default:
	}
}
