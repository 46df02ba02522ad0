// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"testing"
)

// TestLazyAttrsLogLikeWith checks that an event's logger writes the same lines as
// Logger.With would, through further With and WithGroup calls, and honours the level.
func TestLazyAttrsLogLikeWith(t *testing.T) {
	t.Parallel()
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo})
		},
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			eager := slog.New(newHandler(&want)).With("hub", "chat", "conn", "c1", "user", "", "event", "message")
			lazy := slog.New(&lazyAttrs{next: newHandler(&got), attrs: []slog.Attr{
				slog.String("hub", "chat"), slog.String("conn", "c1"), slog.String("user", ""), slog.String("event", "message")}})
			for _, l := range []*slog.Logger{eager, lazy} {
				l.Debug("not written", "status", 204)
				l.Info("Rejected event", "status", 400)
				l.With("attempt", 2).Warn("Again")
				l.WithGroup("g").Error("Grouped", "k", "v")
				l.Log(context.Background(), slog.LevelInfo, "Plain")
			}
			// The time differs between the two runs: compare without it.
			strip := func(b *bytes.Buffer) string {
				return string(timeField.ReplaceAll(b.Bytes(), nil))
			}
			if strip(&got) != strip(&want) || got.Len() == 0 {
				t.Errorf("the lazy logger wrote\n%s\nwant (as With)\n%s", strip(&got), strip(&want))
			}
		})
	}
}

// timeField matches the time attribute of a text or JSON log line.
var timeField = regexp.MustCompile(`time=\S+ |"time":"[^"]*",`)
