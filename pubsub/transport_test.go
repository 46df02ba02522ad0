package pubsub

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"

	"github.com/chathub/chathub/webpubsub"
)

func TestAdvanceDropsWrittenBytes(t *testing.T) {
	tests := []struct {
		name    string
		written int
		want    []string
	}{
		{"nothing written leaves every buffer", 0, []string{"abc", "de", "fghi"}},
		{"part of the first buffer is cut from its front", 2, []string{"c", "de", "fghi"}},
		{"exactly the first buffer drops it", 3, []string{"de", "fghi"}},
		{"a write across buffers cuts into the third", 6, []string{"ghi"}},
		{"everything written leaves nothing", 9, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bufs := [][]byte{[]byte("abc"), []byte("de"), []byte("fghi")}
			iov := make([]syscall.Iovec, len(bufs))
			for i, b := range bufs {
				iov[i].Base = &b[0]
				iov[i].SetLen(len(b))
			}
			var got []string
			for _, v := range advance(iov, tt.written) {
				got = append(got, string(unsafeBytes(v)))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("advance(%d) = %q, want %q", tt.written, got, tt.want)
			}
		})
	}
}

func TestScratchRestCopiesHeadersAndSharesPayloads(t *testing.T) {
	var w writeScratch
	w.reset(2)
	payload := []byte("payload")
	w.hdrs = appendFrameHeader(w.hdrs, opText, len(payload))
	w.bufs = append(w.bufs, w.hdrs[:2], payload)
	w.isHdr = append(w.isHdr, true, false)
	w.hdrs = appendFrameHeader(w.hdrs, opPing, 0)
	w.bufs = append(w.bufs, w.hdrs[2:4])
	w.isHdr = append(w.isHdr, true)

	rest := w.rest(3) // the first header and one payload byte are written
	want := [][]byte{[]byte("ayload"), {0x80 | opPing, 0}}
	if len(rest) != len(want) || !bytes.Equal(rest[0], want[0]) || !bytes.Equal(rest[1], want[1]) {
		t.Fatalf("rest(3) = %q, want %q", rest, want)
	}
	if &rest[0][0] != &payload[1] {
		t.Error("the payload was copied, want it shared")
	}
	w.hdrs[2] = 0 // the scratch space is reused by the next batch
	if rest[1][0] != 0x80|opPing {
		t.Error("the header still points into the scratch space")
	}
}

// burst sends n text messages of size bytes ("<i>|xxx…") to every connection.
func burst(t *testing.T, e *testEnv, n, size int) {
	t.Helper()
	if err := sendBurst(t, e, n, size); err != nil {
		t.Fatal(err)
	}
}

func sendBurst(t *testing.T, e *testEnv, n, size int) error {
	pad := strings.Repeat("x", size)
	for i := range n {
		if err := e.rest.SendToAll(ctx(t), webpubsub.TextContent(fmt.Sprintf("%d|%s", i, pad)), nil); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	return nil
}

// readBurst reads n messages of a burst and checks their order and size.
func readBurst(t *testing.T, ws *websocket.Conn, n, size int) {
	t.Helper()
	for i := range n {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		prefix := fmt.Sprintf("%d|", i)
		if !bytes.HasPrefix(data, []byte(prefix)) || len(data) != len(prefix)+size {
			t.Fatalf("message %d starts with %.12q and has %d bytes, want %q and %d", i, data, len(data), prefix, len(prefix)+size)
		}
	}
}

func TestClientThatStopsReadingGetsEveryFrameInOrderAndStaysUsable(t *testing.T) {
	const writeTimeout = 3 * time.Second
	e := newEnv(t, func(c *Config) { c.WriteTimeout, c.MaxQueueBytes = writeTimeout, 64<<20 })
	c := dialRegistered(t, e, "reader", webpubsub.ClientTokenOptions{})
	before := handoffs.Load()
	// 12 MB is more than the socket buffers of a client that does not read (128 KiB receive
	// buffer, at most 4 MiB send buffer), so writes block and are handed off.
	const n, size = 120, 100 << 10
	burst(t, e, n, size)
	readBurst(t, c.ws, n, size)
	if handoffs.Load() == before {
		t.Fatal("no write was handed off: the test did not fill the socket buffers")
	}
	// The write deadline of the blocked batch is cleared: after it would have expired, the
	// socket still takes messages.
	time.Sleep(writeTimeout + 500*time.Millisecond)
	burst(t, e, 1, 10)
	readBurst(t, c.ws, 1, 10)
}

func TestClientsThatDoNotReadHoldNoWriterFromTheOthers(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WriteTimeout, c.MaxQueueBytes = time.Minute, 64<<20 })
	url := e.clientURL(t, testHub, webpubsub.ClientTokenOptions{})
	stuck := 3 * writers.max // more than the pool has workers
	for range stuck {
		dial(t, url) // never read
	}
	healthy := dial(t, url)
	const n, size = 60, 100 << 10
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := sendBurst(t, e, n, size); err != nil {
			t.Error(err)
		}
	}()
	// With a worker blocked on each stuck client for up to WriteTimeout (a minute), this
	// reader would time out.
	readBurst(t, healthy.ws, n, size)
	wg.Wait()
}

// unsafeBytes returns the bytes an iovec points to.
func unsafeBytes(v syscall.Iovec) []byte { return unsafe.Slice(v.Base, v.Len) }
