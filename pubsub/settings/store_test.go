// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package settings

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

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

// TestSyncFileData applies versions of a settings file, with changes through Set and Delete
// in between, and checks which hubs and handlers the store ends up with.
func TestSyncFileData(t *testing.T) {
	t.Parallel()
	file := func(hubs ...string) string {
		// hub=url pairs
		var b strings.Builder
		b.WriteString(`{"hubs":{`)
		for i, h := range hubs {
			name, url, _ := strings.Cut(h, "=")
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + name + `":{"eventHandlers":[{"urlTemplate":"` + url + `","userEventPattern":"*"}]}`)
		}
		b.WriteString(`}}`)
		return b.String()
	}
	type step struct {
		file   string // a file version to apply, or
		set    string // hub=url to Set, or
		delete string // a hub to Delete
		want   FileSync
	}
	tests := map[string]struct {
		steps []step
		want  map[string]string // hub → URL after the last step
	}{
		"the first version sets every hub": {
			steps: []step{{file: file("a=http://h/1", "b=http://h/2"), want: FileSync{Set: []string{"a", "b"}}}},
			want:  map[string]string{"a": "http://h/1", "b": "http://h/2"},
		},
		"a changed entry replaces the hub's settings and an unchanged one is left alone": {
			steps: []step{
				{file: file("a=http://h/1", "b=http://h/2"), want: FileSync{Set: []string{"a", "b"}}},
				{file: file("a=http://h/3", "b=http://h/2"), want: FileSync{Set: []string{"a"}}},
			},
			want: map[string]string{"a": "http://h/3", "b": "http://h/2"},
		},
		"a hub dropped from the file is removed when its settings came from the file": {
			steps: []step{
				{file: file("a=http://h/1", "b=http://h/2"), want: FileSync{Set: []string{"a", "b"}}},
				{file: file("a=http://h/1"), want: FileSync{Removed: []string{"b"}}},
			},
			want: map[string]string{"a": "http://h/1"},
		},
		"a hub set through the API after the file stays when the file drops it": {
			steps: []step{
				{file: file("a=http://h/1", "b=http://h/2"), want: FileSync{Set: []string{"a", "b"}}},
				{set: "b=http://live/2"},
				{file: file("a=http://h/1"), want: FileSync{Kept: []string{"b"}}},
			},
			want: map[string]string{"a": "http://h/1", "b": "http://live/2"},
		},
		"a hub set through the API keeps its settings while its entry in the file is unchanged": {
			steps: []step{
				{file: file("a=http://h/1", "b=http://h/2"), want: FileSync{Set: []string{"a", "b"}}},
				{set: "b=http://live/2"},
				{file: file("a=http://h/9", "b=http://h/2"), want: FileSync{Set: []string{"a"}}},
			},
			want: map[string]string{"a": "http://h/9", "b": "http://live/2"},
		},
		"the file takes the hub back when it mentions the hub again": {
			steps: []step{
				{file: file("a=http://h/1", "b=http://h/2"), want: FileSync{Set: []string{"a", "b"}}},
				{set: "b=http://live/2"},
				{file: file("a=http://h/1"), want: FileSync{Kept: []string{"b"}}},
				{file: file("a=http://h/1", "b=http://h/4"), want: FileSync{Set: []string{"b"}}},
				{file: file("a=http://h/1"), want: FileSync{Removed: []string{"b"}}},
			},
			want: map[string]string{"a": "http://h/1"},
		},
		"a hub deleted through the API stays deleted until its entry changes": {
			steps: []step{
				{file: file("a=http://h/1", "b=http://h/2"), want: FileSync{Set: []string{"a", "b"}}},
				{delete: "b"},
				{file: file("a=http://h/5", "b=http://h/2"), want: FileSync{Set: []string{"a"}}},
				{file: file("a=http://h/5"), want: FileSync{}},
			},
			want: map[string]string{"a": "http://h/5"},
		},
		"hub names are compared without case": {
			steps: []step{
				{file: file("Chat=http://h/1"), want: FileSync{Set: []string{"Chat"}}},
				{file: file("chat=http://h/1"), want: FileSync{Set: []string{"chat"}}},
				{file: file("other=http://h/1"), want: FileSync{Set: []string{"other"}, Removed: []string{"chat"}}},
			},
			want: map[string]string{"other": "http://h/1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := NewStore()
			for i, st := range tc.steps {
				switch {
				case st.file != "":
					got, err := s.SyncFileData("hubs.json", []byte(st.file))
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if diff := cmp.Diff(st.want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Fatalf("step %d (-want +got):\n%s", i, diff)
					}
				case st.set != "":
					hub, url, _ := strings.Cut(st.set, "=")
					if err := s.Set(hub, handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: url})); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				default:
					s.Delete(st.delete)
				}
			}
			got := map[string]string{}
			for _, hub := range s.Hubs() {
				hs, _ := s.Get(hub)
				got[strings.ToLower(hub)] = hs.Properties.EventHandlers[0].URLTemplate
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("hubs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncFileDataRefusesABadVersionWhole(t *testing.T) {
	t.Parallel()
	s := NewStore()
	if _, err := s.SyncFileData("hubs.json", []byte(`{"hubs":{"a":{"eventHandlers":[{"urlTemplate":"http://h/1"}]}}}`)); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"an invalid handler":         `{"hubs":{"b":{"eventHandlers":[{"urlTemplate":"nope"}]}}}`,
		"two hubs differing in case": `{"hubs":{"b":{},"B":{}}}`,
		"not JSON":                   `{"hubs":`,
	} {
		if _, err := s.SyncFileData("hubs.json", []byte(data)); err == nil {
			t.Fatalf("%s was accepted", name)
		}
		if got := strings.Join(s.Hubs(), ","); got != "a" {
			t.Fatalf("after %s the hubs are %s, want a (unchanged)", name, got)
		}
	}
	// The refused versions did not replace the last applied one: dropping a still removes it.
	if res, err := s.SyncFileData("hubs.json", []byte(`{"hubs":{}}`)); err != nil || len(res.Removed) != 1 {
		t.Fatalf("got %+v, %v; want a removed", res, err)
	}
}

func TestSetHubsLeavesOutTheFile(t *testing.T) {
	t.Parallel()
	s := NewStore()
	if _, err := s.SyncFileData("hubs.json", []byte(`{"hubs":{"fromfile":{},"later":{}}}`)); err != nil {
		t.Fatal(err)
	}
	for _, hub := range []string{"Zeta", "alpha", "later"} {
		if err := s.Set(hub, handlerSettings(webpubsub.EventHandlerSettings{URLTemplate: "http://h/" + hub})); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, hs := range s.SetHubs() {
		names = append(names, hs.Name)
	}
	// "later" came from the file first, then from Set: Set wins.
	if want := []string{"Zeta", "alpha", "later"}; !cmp.Equal(names, want) {
		t.Fatalf("SetHubs = %v, want %v", names, want)
	}
	got := s.SetHubs()
	got[0].Properties.EventHandlers[0].URLTemplate = "http://changed"
	if again, _ := s.Get("zeta"); again.Properties.EventHandlers[0].URLTemplate != "http://h/Zeta" {
		t.Fatal("changing the result of SetHubs changed the stored settings")
	}
}
