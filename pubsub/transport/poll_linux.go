// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package transport

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chathub/chathub/internal/epoll"
	"github.com/chathub/chathub/pubsub/hub"
)

// Reading sockets without a goroutine of their own. A goroutine parked in a read keeps a
// stack of 4 KiB per idle connection (gorilla's read path outgrows the initial 2 KiB), more
// than everything else a connection costs. So on Linux the descriptors of started sockets are
// also registered with one process-wide epoll instance (level-triggered, one-shot), whose
// loop starts a reader goroutine for a socket only when it has bytes to read: the reader reads
// what is there without waiting (frameReader parses it), hands the complete messages to the
// Handler in order and re-arms the socket. A socket with half a frame keeps just those bytes.
// At most one reader runs per socket (pollState.state), so its frames are still handled in
// order, one at a time. The keep-alive deadline is checked by one sweeper goroutine for all
// polled sockets (a timer per socket measured ~350 bytes, 7 % of an idle socket), against the time of each socket's last message or pong, a quarter of the shortest
// idle time apart (at most a second). Sockets without a descriptor, or a system without
// epoll, use readLoop.

// pollState is what a socket read through the poller keeps between reads.
type pollState struct {
	polled  atomic.Bool  // the socket is read through the poller
	state   atomic.Int32 // readerIdle, readerRunning or readerAgain
	expired atomic.Bool  // the sweeper found the socket silent for too long
	alive   atomic.Int64 // monotonic time (since clockBase) of the last message or pong
	token   epoll.Token  // the socket's place in the poller
	c       *hub.Conn    // the connection the reader reports to
}

// Reader states of a polled socket.
const (
	readerIdle    = iota // armed in epoll, no reader running
	readerRunning        // a reader runs (or Start still sets the socket up)
	readerAgain          // a reader runs and must read once more before it stops
)

// gorillaReadBuffer is the read buffer of gorilla's reader, which only reads the sockets
// without a descriptor here: the least gorilla takes, so polled sockets keep 128 bytes
// that they never use instead of 512.
const gorillaReadBuffer = 128

// clockBase is the origin of pollState.alive: times since it are monotonic.
var clockBase = time.Now()

// startPolled starts reading the socket through the poller; false means the socket cannot be
// (no descriptor, no epoll) and needs readLoop.
func (k *Socket) startPolled(c *hub.Conn) bool {
	if k.sys.raw == nil {
		return false
	}
	p := sharedPoller()
	if p == nil {
		return false
	}
	// The server's read deadline of the handshake must not refuse the reads.
	if err := k.ws.NetConn().SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	ps := &k.ps
	ps.c = c
	k.touch()
	ps.state.Store(readerRunning) // until registered: a wake meanwhile asks for a read
	ps.polled.Store(true)
	if err := p.add(k); err != nil {
		return false // readLoop meets the same error and ends the socket
	}
	k.release()
	return true
}

// release ends a turn of the reader (or Start's set-up): the socket goes back to idle unless
// a wake came meanwhile, and then a reader starts at once.
func (k *Socket) release() {
	if !k.ps.state.CompareAndSwap(readerRunning, readerIdle) {
		k.ps.state.Store(readerRunning)
		readers.enter()
		go k.readReady()
	}
}

// wake makes the reader look at the socket: the poller saw bytes, the idle time ran out, or
// the socket was closed (a closed descriptor leaves epoll silently, so whoever closes it
// wakes the reader, which meets the error and ends the connection).
func (k *Socket) wake() {
	if !k.ps.polled.Load() {
		return // readLoop meets the closed socket itself
	}
	for {
		switch k.ps.state.Load() {
		case readerIdle:
			if k.ps.state.CompareAndSwap(readerIdle, readerRunning) {
				readers.enter()
				go k.readReady()
				return
			}
		case readerRunning:
			if k.ps.state.CompareAndSwap(readerRunning, readerAgain) {
				return
			}
		default:
			return
		}
	}
}

// touch notes a message or pong from the client: the idle deadline starts again.
func (k *Socket) touch() { k.ps.alive.Store(int64(time.Since(clockBase))) }

// idleLeft is how long the socket may still stay silent.
func (k *Socket) idleLeft() time.Duration {
	return k.idle() - (time.Since(clockBase) - time.Duration(k.ps.alive.Load()))
}

// readReady is the reader of a polled socket: it reads what is there, checks the idle
// deadline and re-arms the socket, once more for every wake that came meanwhile.
func (k *Socket) readReady() {
	defer readers.leave()
	c := k.ps.c
	for {
		err := k.readAvailable(c)
		if err == nil && k.ps.expired.Swap(false) && k.idleLeft() <= 0 {
			err = os.ErrDeadlineExceeded // a timeout, as readLoop's deadline gives
		}
		if err == nil {
			err = sharedPoller().arm(k)
		}
		if err != nil {
			k.pollEnded(c, err)
			return // state stays running: no reader starts again
		}
		if k.ps.state.CompareAndSwap(readerRunning, readerIdle) {
			return
		}
		k.ps.state.Store(readerRunning)
	}
}

// pollEnded stops reading a polled socket for good and ends its connection.
func (k *Socket) pollEnded(c *hub.Conn, err error) {
	sharedPoller().remove(k)
	k.rd = frameReader{}
	k.readEnded(c, err)
	k.t.socketEnded()
}

// Reading: every reader turn borrows a readScratch; a socket keeps its own buffer only for an
// incomplete frame.
const (
	readBufSize     = 4096
	maxReadsPerTurn = 16 // then the socket is re-armed, and others get their turn
)

// readScratch is a reader turn's buffer and raw-read state.
type readScratch struct {
	buf  []byte
	p    []byte // where the next read goes
	n    int
	err  error
	read func(fd uintptr) bool // readFD, bound once: a closure would allocate per read
}

var readScratches = sync.Pool{New: func() any {
	s := &readScratch{buf: make([]byte, readBufSize)}
	s.read = s.readFD
	return s
}}

// readFD reads once from the non-blocking descriptor; it never waits (true ends RawConn.Read).
func (s *readScratch) readFD(fd uintptr) bool {
	for {
		s.n, s.err = syscall.Read(int(fd), s.p)
		if s.err != syscall.EINTR { //nolint:errorlint // a bare Errno from the system call
			return true
		}
	}
}

// readAvailable reads the bytes the socket has (at most maxReadsPerTurn reads) and acts on
// every complete frame; an error ends the socket.
func (k *Socket) readAvailable(c *hub.Conn) error {
	s := readScratches.Get().(*readScratch)
	defer readScratches.Put(s)
	r := &k.rd
	work, owned := r.partial, r.partial != nil
	if !owned {
		work = s.buf[:0]
	}
	var need int64 // bytes of the incomplete frame at the front of work, when known
	for range maxReadsPerTurn {
		if len(work) == cap(work) { // the incomplete frame needs more room
			n := 2 * cap(work)
			if need > int64(cap(work)) {
				n = int(min(need, int64(n)))
			}
			grown := make([]byte, len(work), max(n, readBufSize))
			copy(grown, work)
			work, owned = grown, true
		}
		s.p = work[len(work):cap(work)]
		err := k.sys.raw.Read(s.read)
		n, rerr, room := s.n, s.err, len(s.p)
		s.p = nil
		switch {
		case err != nil:
			return err
		case errors.Is(rerr, syscall.EAGAIN):
			n = 0 // nothing more to read now
		case rerr != nil:
			return rerr
		case n == 0:
			return io.ErrUnexpectedEOF // the client went away without a close frame
		}
		if n > 0 {
			work = work[:len(work)+n]
			used, nd, err := k.handleFrames(c, work)
			if err != nil {
				return err
			}
			need = nd
			work = work[:copy(work, work[used:])]
		}
		if n < room { // the socket has nothing more for now
			break
		}
	}
	switch {
	case len(work) == 0:
		r.partial = nil
	case owned && cap(work) <= 4*len(work)+readBufSize:
		r.partial = work
	default: // keep only the bytes, not the scratch buffer or a grown one mostly empty
		r.partial = append([]byte(nil), work...)
	}
	return nil
}

// poller is the process-wide epoll instance of polled sockets. Each registered socket has a
// slot; its epoll token is the slot and a generation, so an event that arrives for a slot
// after its socket ended cannot reach the socket that took the slot next.
type poller struct {
	ep      *epoll.Instance // run waits in it
	sockets epoll.Table[*Socket]
	mu      sync.Mutex   // orders the updates of minIdle
	minIdle atomic.Int64 // the shortest idle time of a socket added, for the sweeper
}

var (
	pollerOnce sync.Once
	thePoller  *poller
)

// sharedPoller returns the poller, starting it on first use; nil when the system refuses an
// epoll instance.
func sharedPoller() *poller {
	pollerOnce.Do(func() {
		p, err := newPoller()
		if err != nil {
			return
		}
		thePoller = p
		thePoller.minIdle.Store(int64(maxSweep))
		go thePoller.run()
		go thePoller.sweep()
	})
	return thePoller
}

// newPoller creates the epoll instance (parked in the Go runtime's poller between events: see
// internal/epoll).
func newPoller() (*poller, error) {
	ep, err := epoll.New(256)
	if err != nil {
		return nil, err
	}
	return &poller{ep: ep}, nil
}

// add registers k, armed for one readiness event.
func (p *poller) add(k *Socket) error {
	p.mu.Lock()
	if idle := int64(k.idle()); idle < p.minIdle.Load() {
		p.minIdle.Store(idle) // under mu: no lost update
	}
	p.mu.Unlock()
	k.ps.token = p.sockets.Add(k)
	if err := p.ctl(k, syscall.EPOLL_CTL_ADD); err != nil {
		p.remove(k)
		return err
	}
	return nil
}

// arm re-arms k for one readiness event (level-triggered: bytes already there count).
func (p *poller) arm(k *Socket) error { return p.ctl(k, syscall.EPOLL_CTL_MOD) }

func (p *poller) ctl(k *Socket, op int) error {
	ev := k.ps.token.Event(syscall.EPOLLIN | syscall.EPOLLRDHUP | epoll.OneShot)
	var cerr error
	if err := k.sys.raw.Control(func(fd uintptr) { cerr = syscall.EpollCtl(p.ep.FD(), op, int(fd), &ev) }); err != nil {
		return err
	}
	return cerr
}

// remove frees k's place; its descriptor leaves epoll when it is closed.
func (p *poller) remove(k *Socket) { p.sockets.Remove(k.ps.token) }

// run waits for readiness events for as long as the process lives and wakes the sockets'
// readers. It takes the events without blocking and, when there are none, parks until the
// runtime's poller sees the epoll instance readable again (edge-triggered there: every new
// event of a socket makes it readable anew, so none is missed between the look and the park).
func (p *poller) run() {
	var ready []epoll.Ready[*Socket]
	for {
		ready = p.sockets.Lookup(p.ep.Wait(), ready[:0])
		for i, r := range ready {
			readers.wait()
			r.V.wake()
			ready[i] = epoll.Ready[*Socket]{}
		}
	}
}

// Bounding the reader goroutines. When thousands of clients leave at once, every socket
// becomes readable at once, and a goroutine started for each of them at once lived a moment
// together with thousands of others: the runtime keeps the descriptor of every goroutine that
// ever existed (about 480 bytes each, never freed, only reused), so a wave of 10,000 closes
// left megabytes of them. The poller therefore starts a reader only while fewer than
// maxReaders run; past that the events wait in epoll (level-triggered, still armed). A reader
// does not count while the Handler has its message (a user event waits for the upstream
// answer there), so slow handlers never hold up the other sockets' readers.

// maxReaders is the most reader goroutines the poller lets run outside the Handler.
const maxReaders = 256

// readerGate counts the running readers and lets the poller wait for one to finish.
type readerGate struct {
	active  atomic.Int64
	waiting atomic.Bool
	wakeup  chan struct{}
}

var readers = readerGate{wakeup: make(chan struct{}, 1)}

// enter counts a reader starting or coming back from the Handler; it never waits.
func (g *readerGate) enter() { g.active.Add(1) }

// leave counts a reader ending or handing a message to the Handler, and wakes the poller if
// it waits for a reader to finish.
func (g *readerGate) leave() {
	if g.active.Add(-1) < maxReaders && g.waiting.Load() {
		select {
		case g.wakeup <- struct{}{}:
		default:
		}
	}
}

// wait returns once fewer than maxReaders readers run. waiting is set before active is
// looked at again and leave looks at waiting after changing active, so a reader finishing
// meanwhile either lets wait see the lower count or sends it a wakeup.
func (g *readerGate) wait() {
	for g.active.Load() >= maxReaders {
		g.waiting.Store(true)
		if g.active.Load() < maxReaders {
			g.waiting.Store(false)
			return
		}
		<-g.wakeup
		g.waiting.Store(false)
	}
}

// toHandler stops counting the reader of a polled socket while the Handler has a message
// (which may wait for an upstream answer); it reports whether it did.
func (k *Socket) toHandler() bool {
	if k.ps.polled.Load() {
		readers.leave()
		return true
	}
	return false
}

// fromHandler counts the reader again once the Handler returned, if toHandler stopped it.
func fromHandler(counted bool) {
	if counted {
		readers.enter()
	}
}

// maxSweep is the longest time between two sweeps for silent sockets.
const maxSweep = time.Second

// sweep ends the sockets that stayed silent longer than their idle time, for as long as the
// process lives: every quarter of the shortest idle time (at most maxSweep) it marks them
// expired and wakes their readers, which check again and end them (PingTimeout).
func (p *poller) sweep() {
	var silent []*Socket
	for {
		time.Sleep(min(maxSweep, time.Duration(p.minIdle.Load())/4))
		p.sockets.Each(func(k *Socket) {
			if !k.ps.expired.Load() && k.idleLeft() <= 0 {
				silent = append(silent, k)
			}
		})
		for i, k := range silent {
			k.ps.expired.Store(true)
			k.wake()
			silent[i] = nil
		}
		silent = silent[:0]
	}
}
