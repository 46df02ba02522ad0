// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package epoll

import (
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Wait parks in the runtime's poller (the goroutine is in "IO wait", not in a system call) and
// returns the events of the instance's members, each time one comes.
func TestWaitParksInTheRuntimesPollerAndReturnsEvents(t *testing.T) {
	e, err := New(8)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) })
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | 0x40000000 /* EPOLLONESHOT */, Fd: 7, Pad: 9}
	if err := syscall.EpollCtl(e.FD(), syscall.EPOLL_CTL_ADD, fds[0], &ev); err != nil {
		t.Fatal(err)
	}
	got := make(chan syscall.EpollEvent)
	go func() {
		for {
			for _, ev := range e.Wait() {
				got <- ev
			}
		}
	}()
	for round := range 3 {
		// The waiter parks in the runtime's poller before the bytes come.
		state := waiterState()
		for deadline := time.Now().Add(10 * time.Second); !strings.HasPrefix(state, "IO wait"); state = waiterState() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the waiting goroutine is in state %q, want it parked in the runtime's poller (IO wait)", round, state)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := syscall.Write(fds[1], []byte("x")); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-got:
			if ev.Fd != 7 || ev.Pad != 9 || ev.Events&syscall.EPOLLIN == 0 {
				t.Fatalf("round %d: event %+v, want EPOLLIN with the token 7/9", round, ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: no event for the readable socket", round)
		}
		var b [8]byte
		if _, err := syscall.Read(fds[0], b[:]); err != nil {
			t.Fatal(err)
		}
		if err := syscall.EpollCtl(e.FD(), syscall.EPOLL_CTL_MOD, fds[0], &ev); err != nil { // one-shot: re-arm
			t.Fatal(err)
		}
	}
}

// waiterState is the state of the goroutine in Wait as a goroutine dump shows it.
func waiterState() string {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "epoll.(*Instance).Wait(") {
			continue
		}
		head, _, _ := strings.Cut(g, "\n")
		if _, rest, ok := strings.Cut(head, "["); ok {
			state, _, _ := strings.Cut(rest, "]")
			return state
		}
	}
	return ""
}
