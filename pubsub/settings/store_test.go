// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package settings

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chathub/chathub/webpubsub"
)

func TestStoreIsCaseInsensitiveAndCopies(t *testing.T) {
	t.Parallel()
	s := NewStore()
	in := handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/{event}", SystemEvents: []string{"connect"}})
	if err := s.Set("Chat", in); err != nil {
		t.Fatalf("Set: %v", err)
	}
	in.Properties.EventHandlers[0].URLTemplate = "http://changed/"
	got, ok := s.Get("chat")
	if !ok {
		t.Fatal("Get(chat) found nothing after Set(Chat)")
	}
	if got.Name != "Chat" || got.Properties.EventHandlers[0].URLTemplate != "http://h/{event}" {
		t.Fatalf("Get = %+v, want the settings as set, named Chat", got)
	}
	got.Properties.EventHandlers[0].SystemEvents[0] = "mutated"
	again, _ := s.Get("CHAT")
	if again.Properties.EventHandlers[0].SystemEvents[0] != "connect" {
		t.Fatal("changing the result of Get changed the stored settings")
	}
	if !s.Delete("cHaT") {
		t.Fatal("Delete reported nothing deleted")
	}
	if _, ok := s.Get("chat"); ok {
		t.Fatal("Get found settings after Delete")
	}
	if s.Delete("chat") {
		t.Fatal("a second Delete reported a deletion")
	}
}

func TestStoreSetRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := NewStore()
	if err := s.Set("1bad", &webpubsub.HubSettings{}); err == nil || !strings.Contains(err.Error(), "hub name") {
		t.Fatalf("Set with a bad hub name = %v, want a hub name error", err)
	}
	if err := s.Set("chat", handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://{hub}/x"})); err == nil {
		t.Fatal("Set with a placeholder in the host succeeded")
	}
	if _, ok := s.Get("chat"); ok {
		t.Fatal("a refused Set stored settings")
	}
	if err := s.Set(DefaultHub, &webpubsub.HubSettings{}); err != nil {
		t.Fatalf("Set(%q) = %v, want the fallback hub accepted", DefaultHub, err)
	}
}

func TestStoreIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	s := NewStore()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				hub := []string{"a", "b", "c"}[(i+j)%3]
				_ = s.Set(hub, handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/x"}))
				s.Get(hub)
				if j%10 == 0 {
					s.Delete(hub)
				}
				s.Hubs()
			}
		}()
	}
	wg.Wait()
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		content  string
		wantErr  string
		wantHubs []string
	}{
		"a valid file stores every hub": {
			content:  `{"hubs":{"chat":{"eventHandlers":[{"urlTemplate":"http://127.0.0.1:8080/eventhandler","userEventPattern":"*","systemEvents":["connect","connected"]}]},"_default":{"eventHandlers":[{"urlTemplate":"http://h/{hub}/{event}"}]}}}`,
			wantHubs: []string{"_default", "chat"},
		},
		"malformed JSON is refused": {
			content: `{"hubs":`, wantErr: "unexpected EOF",
		},
		"an unknown field is refused": {
			content: `{"hubs":{"chat":{"properties":{}}}}`, wantErr: `unknown field "properties"`,
		},
		"a file without hubs is refused": {
			content: `{}`, wantErr: `no "hubs" object`,
		},
		"an invalid handler names the hub and stores nothing": {
			content: `{"hubs":{"ok":{},"chat":{"eventHandlers":[{"urlTemplate":"nope"}]}}}`, wantErr: `hub "chat": properties.eventHandlers[0]: urlTemplate "nope" is not an absolute URL`,
		},
		"an invalid hub name is refused": {
			content: `{"hubs":{"9":{}}}`, wantErr: "hub name",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "hubs.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s := NewStore()
			err := s.LoadFile(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("LoadFile = %v, want an error containing %q", err, tc.wantErr)
				}
				if hubs := s.Hubs(); len(hubs) != 0 {
					t.Fatalf("a refused file stored hubs %v", hubs)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if got := strings.Join(s.Hubs(), ","); got != strings.Join(tc.wantHubs, ",") {
				t.Fatalf("Hubs() = %s, want %v", got, tc.wantHubs)
			}
		})
	}
}

func TestLoadFileReportsAMissingFile(t *testing.T) {
	t.Parallel()
	err := NewStore().LoadFile(filepath.Join(t.TempDir(), "missing.json"))
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("LoadFile(missing) = %v, want a no such file error", err)
	}
}
