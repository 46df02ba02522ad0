// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/proc"
)

// The key may come from $CHATHUB_ACCESS_KEY or, deprecated, from
// $WEBPUBSUB_ACCESS_KEY: the process uses it either way, logs one warning
// naming the new variable for the old one, and never shows the key.
func TestAccessKeyFromTheEnvironmentByEitherName(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "chathub-data")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/chathub-data") //nolint:gosec // G204: the output path is the test's temporary directory
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const warning = `msg="Deprecated environment variable: set the new name instead" variable=WEBPUBSUB_ACCESS_KEY use=CHATHUB_ACCESS_KEY`
	for name, tc := range map[string]struct {
		env         string
		wantWarning bool
	}{
		"CHATHUB_ACCESS_KEY":                {env: EnvAccessKey},
		"WEBPUBSUB_ACCESS_KEY (deprecated)": {env: EnvOldAccessKey, wantWarning: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(bin, "pubsub", "--listen", "127.0.0.1:0")
			cmd.Env = []string{tc.env + "=" + testKey}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			stderr := &proc.SyncBuffer{}
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			proc.Stop(cmd, os.Interrupt, 15*time.Second)
			if err != nil {
				t.Fatalf("no connection string printed: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(line, "AccessKey=***") {
				t.Errorf("the connection string %q does not hide the key from the environment", line)
			}
			if strings.Contains(line+stderr.String(), testKey) {
				t.Error("the key is shown")
			}
			if got := strings.Count(stderr.String(), warning); got != map[bool]int{true: 1, false: 0}[tc.wantWarning] {
				t.Errorf("%d deprecation warnings, want them only for the old name (once); log:\n%s", got, stderr.String())
			}
		})
	}
}
