// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestHandlerURLKeysStayOutOfErrorsAndLogs(t *testing.T) {
	t.Parallel()
	const secret = "function-key-do-not-print"
	tests := map[string]string{
		"a URL that does not parse":          "http://127.0.0.1:1/api/%zz?code=" + secret,
		"a URL whose host cannot be reached": "http://127.0.0.1:1/api/validate?code=" + secret,
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			d := newDispatcher(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			err := d.valid.check(context.Background(), raw)
			if err == nil {
				t.Fatal("validation of an unusable URL succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the URL's key: %v", err)
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the logs show the URL's key:\n%s", logs.String())
			}
		})
	}
}
