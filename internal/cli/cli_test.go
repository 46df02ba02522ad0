// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args       []string
		wantErr    string
		wantUsage  bool
		wantRan    string
		wantOutput []string
	}{
		"a command runs with the arguments after its name": {
			args: []string{"b", "--x", "1"}, wantRan: "b [--x 1]",
		},
		"help lists the commands under the binary's name": {
			args: []string{"--help"}, wantOutput: []string{"Usage: tool <command> [flags]", "  a           first", "  b           second"},
		},
		"no command is a usage error, after the help": {
			wantErr: "usage error: no command given; run 'tool --help' for the list", wantUsage: true,
			wantOutput: []string{"Usage: tool <command> [flags]"},
		},
		"an unknown command is a usage error": {
			args: []string{"manager"}, wantErr: `usage error: unknown command "manager"; run 'tool --help' for the list`, wantUsage: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var ran string
			cmd := func(n string) Command {
				return Command{Name: n, Summary: map[string]string{"a": "first", "b": "second"}[n], Run: func(_ context.Context, args []string) error {
					ran = fmt.Sprintf("%s %v", n, args)
					return nil
				}}
			}
			var out bytes.Buffer
			err := Run(t.Context(), "tool", []Command{cmd("a"), cmd("b")}, tc.args, &out)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrUsage) != tc.wantUsage {
				t.Fatalf("err %v: usage error %v, want %v", err, !tc.wantUsage, tc.wantUsage)
			}
			if ran != tc.wantRan {
				t.Errorf("ran %q, want %q", ran, tc.wantRan)
			}
			for _, want := range tc.wantOutput {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output %q, want %q in it", out.String(), want)
				}
			}
		})
	}
}
