// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package proc holds what the process tests and benchmarks share when they run the chathub
// binaries as child processes: stopping one politely, counting its descriptors, and a log
// buffer a child's output goroutine and the test can share. It is not used by the product.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Stop sends sig to the process of cmd (started, not yet waited for), waits for it to
// exit for at most grace, then kills it, and always waits for it.
func Stop(cmd *exec.Cmd, sig os.Signal, grace time.Duration) {
	_ = cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// OpenFiles is the number of descriptors process pid holds (Linux: /proc/<pid>/fd).
func OpenFiles(pid int) (int, error) {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("counting the descriptors of process %d: %w", pid, err)
	}
	return len(entries), nil
}

// SyncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
