// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// EnvAccessKey is the environment variable that may hold the access key of
// `chathub pubsub` (typically from a Kubernetes Secret).
const EnvAccessKey = "WEBPUBSUB_ACCESS_KEY"

// CommandConfig is the configuration of the `chathub pubsub` command: defaults
// from DefaultCommandConfig, then the environment (LoadEnv), then flags
// (BindFlags), then the files the flags name (LoadFiles), checked by Validate.
// ServiceConfig translates it into the Config of the Server.
type CommandConfig struct {
	// Listen is the TCP address the service binds.
	Listen string
	// Endpoint is the URL advertised in the connection string (http or
	// https, a host, no path, query, fragment or user info). Empty means
	// http://<bound address>.
	Endpoint string
	// AccessKey is the key typed on the command line. It wins over every
	// other source and may be printed.
	AccessKey string
	// AccessKeyFile names a file holding the key (a mounted Secret); used
	// when AccessKey is empty. Surrounding whitespace is trimmed.
	AccessKeyFile string
	// AccessKeyFromEnv is $WEBPUBSUB_ACCESS_KEY (LoadEnv), used when neither
	// AccessKey nor the file gives a key. Never printed.
	AccessKeyFromEnv string
	// SettingsFile names a hub settings JSON file loaded at start-up.
	SettingsFile string

	fileKey    string // the trimmed content of AccessKeyFile (LoadFiles)
	fileLoaded bool
}

// DefaultCommandConfig returns the configuration used when nothing
// overrides it.
func DefaultCommandConfig() CommandConfig {
	return CommandConfig{Listen: "127.0.0.1:7070"}
}

// LoadEnv applies the environment (read through getenv) to c.
func (c *CommandConfig) LoadEnv(getenv func(string) string) {
	if v := getenv(EnvAccessKey); v != "" {
		c.AccessKeyFromEnv = v
	}
}

// BindFlags registers the command's flags on fs, with c's current values as
// defaults, so parsing fs overrides c.
func (c *CommandConfig) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve on")
	fs.StringVar(&c.Endpoint, "endpoint", c.Endpoint, "endpoint advertised in the connection string (default http://<listen address>)")
	fs.StringVar(&c.AccessKey, "access-key", c.AccessKey, "access key, at least 32 characters (default: --access-key-file, then $"+EnvAccessKey+", else a generated one)")
	fs.StringVar(&c.AccessKeyFile, "access-key-file", c.AccessKeyFile, "file holding the access key (e.g. a mounted Secret)")
	fs.StringVar(&c.SettingsFile, "settings-file", c.SettingsFile, `hub settings JSON: {"hubs":{"<hub>":{"eventHandlers":[...]}}}`)
}

// LoadFiles reads the access key file when it is the source of the key (no
// AccessKey). Call it after the flags are parsed and before Validate. The
// settings file is read by ServiceConfig.
func (c *CommandConfig) LoadFiles() error {
	c.fileKey, c.fileLoaded = "", true
	if c.AccessKey != "" || c.AccessKeyFile == "" {
		return nil
	}
	b, err := os.ReadFile(c.AccessKeyFile)
	if err != nil {
		c.fileLoaded = false
		return fmt.Errorf("reading --access-key-file: %w", err)
	}
	c.fileKey = strings.TrimSpace(string(b))
	return nil
}

// Validate reports the first problem with c as one sentence: an invalid
// endpoint or an invalid access key from whichever source gives it (after
// LoadFiles, the file's too). Messages never contain the key.
func (c *CommandConfig) Validate() error {
	if c.Endpoint != "" {
		if _, err := parseEndpoint(c.Endpoint); err != nil {
			return err
		}
	}
	if !c.fileLoaded && c.AccessKey == "" && c.AccessKeyFile != "" {
		return nil // the key is checked once the file is read
	}
	if key, _ := c.givenKey(); key != "" {
		return ValidateAccessKey(key)
	}
	return nil
}

// givenKey returns the key from the flag, the file (once loaded) or the
// environment, in that order, and whether it may be printed: only a key typed
// on the command line may. It returns "" when none gives a key.
func (c *CommandConfig) givenKey() (key string, show bool) {
	switch {
	case c.AccessKey != "":
		return c.AccessKey, true
	case c.fileKey != "":
		return c.fileKey, false
	}
	return c.AccessKeyFromEnv, false
}

// ResolveAccessKey returns the key the service uses, from the flag, the file
// or the environment, or a generated one. show reports whether the key may be
// printed: only a generated key (the user has no other way to learn it) or
// one typed on the command line; a key from a file or the environment (a
// Kubernetes Secret) must not end up in logs. It reads the file if LoadFiles
// has not.
func (c *CommandConfig) ResolveAccessKey() (key string, show bool, err error) {
	if !c.fileLoaded {
		if err := c.LoadFiles(); err != nil {
			return "", false, err
		}
	}
	key, show = c.givenKey()
	if key == "" {
		key, err := webpubsub.NewAccessKey()
		return key, true, err
	}
	if err := ValidateAccessKey(key); err != nil {
		return "", false, err
	}
	return key, show, nil
}

// AdvertisedEndpoint returns the endpoint of the connection string: Endpoint,
// or http://<bound> when it is empty.
func (c *CommandConfig) AdvertisedEndpoint(bound string) (*url.URL, error) {
	if c.Endpoint == "" {
		return &url.URL{Scheme: "http", Host: bound}, nil
	}
	return parseEndpoint(c.Endpoint)
}

// parseEndpoint checks an --endpoint value and drops a trailing slash.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err == nil && u.User != nil {
		// Not quoted: the user info may be a password.
		return nil, errors.New("--endpoint must not have user info (user:password@)")
	}
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--endpoint %q must be an http(s) URL with a host", s)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("--endpoint %q must not have a path", s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("--endpoint %q must not have a query or fragment", s)
	}
	u.Path = ""
	return u, nil
}

// SettingsStore returns a hub settings store holding SettingsFile, or an
// empty one.
func (c *CommandConfig) SettingsStore() (*settings.Store, error) {
	store := settings.NewStore()
	if c.SettingsFile != "" {
		if err := store.LoadFile(c.SettingsFile); err != nil {
			return nil, fmt.Errorf("loading hub settings: %w", err)
		}
	}
	return store, nil
}

// ServiceConfig translates c into the Config of the Server listening on
// bound: its endpoint, access key, hub settings and logger. showKey reports
// whether the key may be printed (see ResolveAccessKey).
func (c *CommandConfig) ServiceConfig(bound string, logger *slog.Logger) (cfg Config, showKey bool, err error) {
	key, showKey, err := c.ResolveAccessKey()
	if err != nil {
		return Config{}, false, err
	}
	store, err := c.SettingsStore()
	if err != nil {
		return Config{}, false, err
	}
	endpoint, err := c.AdvertisedEndpoint(bound)
	if err != nil {
		return Config{}, false, err
	}
	return Config{Endpoint: endpoint, AccessKeys: []string{key}, Logger: logger, Settings: store}, showKey, nil
}
