// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/envvar"
)

// fakePart is a FlagConfig that records what configure did with it.
type fakePart struct {
	name     string
	value    string
	loadErr  error
	calls    *[]string
	validate func(string) error
}

func (p *fakePart) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&p.value, p.name, p.value, "a test flag")
}

func (p *fakePart) Validate() error {
	*p.calls = append(*p.calls, "validate "+p.name)
	if p.validate != nil {
		return p.validate(p.value)
	}
	return nil
}

// loadingPart is a fakePart that also reads files.
type loadingPart struct{ fakePart }

func (p *loadingPart) LoadFiles() error {
	*p.calls = append(*p.calls, "load "+p.name)
	return p.loadErr
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("b is refused")
	tests := map[string]struct {
		args      []string
		loadErr   error
		want      []string
		wantErr   string
		wantUsage bool
		wantValue string
	}{
		"parts load files then validate, in order": {
			args: []string{"--b", "x"}, want: []string{"validate a", "load b", "validate b"}, wantValue: "x",
		},
		"a flag keeps the part's value as its default": {
			want: []string{"validate a", "load b", "validate b"}, wantValue: "default",
		},
		"an invalid part is a usage error": {
			args: []string{"--b", "bad"}, want: []string{"validate a", "load b", "validate b"},
			wantErr: "usage error: b is refused", wantUsage: true,
		},
		"a file that cannot be read is not a usage error and stops before Validate": {
			loadErr: errors.New("reading the file: gone"), want: []string{"validate a", "load b"}, wantErr: "reading the file: gone",
		},
		"an unknown flag stops before anything": {
			args: []string{"--c"}, wantErr: "usage error: unknown flag --c (--help lists the flags)", wantUsage: true,
		},
		"a stray argument stops before anything": {
			args: []string{"--b=x", "y", "z"}, wantErr: `usage error: unexpected arguments ["y" "z"]`, wantUsage: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls []string
			a := &fakePart{name: "a", calls: &calls}
			b := &loadingPart{fakePart{name: "b", value: "default", loadErr: tc.loadErr, calls: &calls, validate: func(v string) error {
				if v == "bad" {
					return errRefused
				}
				return nil
			}}}
			err := Configure("test", tc.args, a, b)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrUsage) != tc.wantUsage {
				t.Fatalf("err %v: usage error %v, want %v", err, !tc.wantUsage, tc.wantUsage)
			}
			if strings.Join(calls, ", ") != strings.Join(tc.want, ", ") {
				t.Fatalf("calls %q, want %q", calls, tc.want)
			}
			if tc.wantValue != "" && b.value != tc.wantValue {
				t.Fatalf("--b is %q, want %q", b.value, tc.wantValue)
			}
		})
	}
}

func TestConfigureHelp(t *testing.T) {
	t.Parallel()
	var calls []string
	err := Configure("test", []string{"--help"}, &fakePart{name: "a", calls: &calls})
	if !errors.Is(err, flag.ErrHelp) || len(calls) != 0 {
		t.Fatalf("err %v, calls %q; want flag.ErrHelp and no validation", err, calls)
	}
}

func TestLogConfig(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		env     map[string]string
		args    []string
		wantErr string
		// wantLogged and wantSilent are checked against one Debug and one Info record.
		wantLogged, wantSilent string
	}{
		"info and text by default": {
			wantLogged: `level=INFO msg=shown`, wantSilent: "hidden",
		},
		"debug shows debug": {
			args: []string{"--log-level", "debug"}, wantLogged: `level=DEBUG msg=hidden`,
		},
		"warn hides info": {
			args: []string{"--log-level=warn"}, wantSilent: "shown",
		},
		"level and format in any case": {
			args: []string{"--log-level=DEBUG", "--log-format=JSON"}, wantLogged: `"level":"DEBUG","msg":"hidden"`,
		},
		"json": {
			args: []string{"--log-format", "json"}, wantLogged: `"level":"INFO","msg":"shown"`, wantSilent: "hidden",
		},
		"the environment sets the defaults": {
			env:        map[string]string{EnvLogLevel: "debug", EnvLogFormat: "json"},
			wantLogged: `"level":"DEBUG","msg":"hidden"`,
		},
		"a flag wins over the environment": {
			env: map[string]string{EnvLogLevel: "loud", EnvLogFormat: "xml"}, args: []string{"--log-level=warn", "--log-format=text"},
			wantSilent: "shown",
		},
		"an unknown level is refused": {
			args: []string{"--log-level", "loud"}, wantErr: `usage error: --log-level "loud" is not debug, info, warn or error`,
		},
		"an unknown format is refused": {
			args: []string{"--log-format", "xml"}, wantErr: `usage error: --log-format "xml" is not text or json`,
		},
		"an unknown level in the environment is refused by its name": {
			env: map[string]string{EnvLogLevel: "loud"}, wantErr: `usage error: $CHATHUB_LOG_LEVEL "loud" is not debug, info, warn or error`,
		},
		"an unknown format in the environment is refused by its name": {
			env: map[string]string{EnvLogFormat: "xml"}, wantErr: `usage error: $CHATHUB_LOG_FORMAT "xml" is not text or json`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := NewLogConfig()
			c.LoadEnv(func(k string) string { return tc.env[k] })
			err := Configure("test", tc.args, c)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrUsage) || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want the usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			log := c.Logger(&buf)
			log.Debug("hidden")
			log.Info("shown")
			if tc.wantLogged != "" && !strings.Contains(buf.String(), tc.wantLogged) {
				t.Errorf("logged %q, want %q in it", buf.String(), tc.wantLogged)
			}
			if tc.wantSilent != "" && strings.Contains(buf.String(), tc.wantSilent) {
				t.Errorf("logged %q, want no %q", buf.String(), tc.wantSilent)
			}
		})
	}
}

func TestWarnDeprecatedEnv(t *testing.T) {
	t.Parallel()
	const value = "the-value-is-never-logged"
	var buf bytes.Buffer
	log := NewLogConfig().Logger(&buf)
	env := map[string]string{"OLD_KEY": value}
	WarnDeprecatedEnv(log, func(k string) string { return env[k] },
		envvar.Var{Name: "CHATHUB_KEY", Deprecated: []string{"OLD_KEY"}}, envvar.Var{Name: "CHATHUB_OTHER", Deprecated: []string{"OLD_OTHER"}})
	want := " level=WARN msg=\"Deprecated environment variable: set the new name instead\" variable=OLD_KEY use=CHATHUB_KEY\n"
	if !strings.HasSuffix(buf.String(), want) || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("logged %q, want %q", buf.String(), want)
	}
	if strings.Contains(buf.String(), value) {
		t.Error("the warning shows the value")
	}
}
