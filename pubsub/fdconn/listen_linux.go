// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package fdconn

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
)

// Listen listens on the TCP address addr; the connections it accepts are descriptors outside
// Go's network poller (see the package documentation).
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	tl := ln.(*net.TCPListener)
	// The net package's listener cannot wait for a RawConn.Read, so Accept waits in this
	// package's poller, on a duplicate of the listening descriptor (non-blocking like it:
	// they share the file's status flags).
	raw, err := tl.SyscallConn()
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	dup, derr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			derr = os.NewSyscallError("fcntl", errno)
			return
		}
		dup = int(r)
	}); err != nil || derr != nil {
		_ = ln.Close()
		return nil, errors.Join(err, derr)
	}
	return &listener{TCPListener: tl, fd: &conn{fd: dup}}, nil
}

// listener accepts descriptors with accept4; Addr is the TCPListener's.
type listener struct {
	*net.TCPListener
	fd *conn // the duplicate of the listening descriptor that Accept waits on
}

// Close stops accepting; a waiting Accept returns net.ErrClosed.
func (l *listener) Close() error {
	_ = l.fd.Close()
	return l.TCPListener.Close()
}

// Keep-alive of accepted sockets, as the net package's defaults.
const (
	keepAliveIdle     = 15 // seconds
	keepAliveInterval = 15 // seconds
	keepAliveCount    = 9
)

// Accept waits for the next connection. A descriptor limit reached (EMFILE, ENFILE) is a
// net.Error whose Temporary is true, on which http.Server waits and tries again.
func (l *listener) Accept() (net.Conn, error) {
	var (
		nfd  int
		sa   syscall.Sockaddr
		aerr error
	)
	err := rawConn{l.fd}.Read(func(fd uintptr) bool {
		for {
			nfd, sa, aerr = syscall.Accept4(int(fd), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
			switch {
			case errors.Is(aerr, syscall.EINTR), errors.Is(aerr, syscall.ECONNABORTED):
				continue // the client gave up before we accepted: take the next
			case errors.Is(aerr, syscall.EAGAIN):
				return false // wait in the listener's poll descriptor
			}
			return true
		}
	})
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			err = net.ErrClosed
		}
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: err}
	}
	if aerr != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", aerr)}
	}
	setOptions(nfd)
	c := &conn{fd: nfd, raddr: addrPort(sa)}
	if lsa, err := syscall.Getsockname(nfd); err == nil {
		c.laddr = addrPort(lsa)
	} else if a, ok := l.Addr().(*net.TCPAddr); ok {
		c.laddr = a.AddrPort()
	}
	return c, nil
}

// setOptions sets what the net package sets on accepted TCP sockets: no Nagle delay (the
// service's frames are small and latency matters) and keep-alive probes. Like the net
// package, it ignores errors: these options cannot fail on a connected TCP socket.
func setOptions(fd int) {
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveInterval)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount)
}

// addrPort converts a socket address of accept4 or getsockname.
func addrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)) //nolint:gosec // G115: a port fits 16 bits
	case *syscall.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr)
		if a.ZoneId != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(a.ZoneId), 10))
		}
		return netip.AddrPortFrom(ip, uint16(a.Port)) //nolint:gosec // G115: a port fits 16 bits
	}
	return netip.AddrPort{}
}
