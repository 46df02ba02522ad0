// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/envvar"
	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// EnvAccessKey is the environment variable that may hold the access key of
// `chathub pubsub` (typically from a Kubernetes Secret); EnvOldAccessKey is
// its deprecated name, still read when it is unset.
const (
	EnvAccessKey    = envvar.Prefix + "ACCESS_KEY"
	EnvOldAccessKey = "WEBPUBSUB_ACCESS_KEY"
)

// EnvVars are the environment variables `chathub pubsub` reads (LoadEnv).
var EnvVars = append([]envvar.Var{{
	Name: EnvAccessKey, Deprecated: []string{EnvOldAccessKey},
	Usage: "the primary access key, when neither --access-key nor --access-key-file gives one",
}}, natsEnvVars...)

// MaxAccessKeyFiles is how many --access-key-file flags `chathub pubsub` takes: the primary
// key's file and the secondary key's, as Azure has two keys.
const MaxAccessKeyFiles = 2

// DefaultReloadInterval is how often `chathub pubsub` checks its key and settings files.
const DefaultReloadInterval = 2 * time.Second

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
	// AccessKeyFiles name the files holding the keys (a mounted Secret),
	// primary first, at most MaxAccessKeyFiles; used when AccessKey is empty.
	// Surrounding whitespace is trimmed. An empty primary file falls back to
	// AccessKeyFromEnv; an empty secondary file means no secondary key. The
	// files are re-read every ReloadInterval (see RunCommand).
	AccessKeyFiles []string
	// AccessKeyFromEnv is $CHATHUB_ACCESS_KEY (LoadEnv; or the deprecated $WEBPUBSUB_ACCESS_KEY), used when neither
	// AccessKey nor the file gives a key. Never printed.
	AccessKeyFromEnv string
	// SettingsFile names a hub settings JSON file loaded before serving and
	// re-read every ReloadInterval.
	SettingsFile string
	// ReloadInterval is how often AccessKeyFiles and SettingsFile are checked
	// for changes; 0 means DefaultReloadInterval.
	ReloadInterval time.Duration
	// RateLimit is how many messages per second a client connection may send
	// on average; 0 means no limit. See Config.RateLimit.
	RateLimit float64
	// RateBurst is how many messages above RateLimit a connection may send
	// at once; 0 means DefaultRateBurst.
	RateBurst int
	// ReadHeaderTimeout, BodyTimeout and IdleTimeout bound reading a
	// request's headers, reading the body of a request that is not a
	// WebSocket handshake, and keeping an idle keep-alive connection; 0
	// means the Config default.
	ReadHeaderTimeout, BodyTimeout, IdleTimeout time.Duration
	// MaxUnauthenticated bounds the connections that have not authenticated;
	// 0 means DefaultMaxUnauthenticated.
	MaxUnauthenticated int
	// NATS makes the service one of several replicas sharing their hubs
	// through NATS; without NATS.URL it runs alone.
	NATS NATSConfig

	accessKeyEnv string   // the variable AccessKeyFromEnv came from (LoadEnv)
	fileKeys     []string // the trimmed content of each of AccessKeyFiles (LoadFiles)
	fileRaw      [][]byte // the content of each of AccessKeyFiles (LoadFiles)
	fileLoaded   bool
	settingsRaw  []byte // the content of SettingsFile (SettingsStore)
}

// DefaultCommandConfig returns the configuration used when nothing
// overrides it.
func DefaultCommandConfig() CommandConfig {
	return CommandConfig{
		Listen: "127.0.0.1:7070", ReloadInterval: DefaultReloadInterval,
		RateLimit: DefaultRateLimit, RateBurst: DefaultRateBurst,
		ReadHeaderTimeout: DefaultReadHeaderTimeout, BodyTimeout: DefaultBodyTimeout, IdleTimeout: DefaultIdleTimeout,
		MaxUnauthenticated: DefaultMaxUnauthenticated,
	}
}

// LoadEnv applies the environment (read through getenv) to c.
func (c *CommandConfig) LoadEnv(getenv func(string) string) {
	if v, from := EnvVars[0].Lookup(getenv); v != "" {
		c.AccessKeyFromEnv, c.accessKeyEnv = v, from
	}
	c.NATS.loadEnv(getenv)
}

// BindFlags registers the command's flags on fs, with c's current values as
// defaults, so parsing fs overrides c.
func (c *CommandConfig) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to serve on")
	fs.StringVar(&c.Endpoint, "endpoint", c.Endpoint, "endpoint advertised in the connection string (default http://<listen address>)")
	fs.StringVar(&c.AccessKey, "access-key", c.AccessKey, "access key, at least 32 characters (default: --access-key-file, then $"+EnvAccessKey+", else a generated one)")
	fs.Var((*fileList)(&c.AccessKeyFiles), "access-key-file", "file holding the access key (e.g. a mounted Secret), reloaded on change; give it twice for the primary and the secondary key")
	fs.StringVar(&c.SettingsFile, "settings-file", c.SettingsFile, `hub settings JSON: {"hubs":{"<hub>":{"eventHandlers":[...]}}}, reloaded on change`)
	fs.DurationVar(&c.ReloadInterval, "reload-interval", c.ReloadInterval, "how often to check the access key and settings files")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "messages per second a client connection may send on average; a connection over it (and --rate-burst) is closed with reason RateLimited; 0 for no limit")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "how long a client may take to send a request's headers")
	fs.DurationVar(&c.BodyTimeout, "body-timeout", c.BodyTimeout, "how long a client may take to send the body of a request that is not a WebSocket handshake (REST, ARM), from the end of its headers")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "how long an idle keep-alive connection is kept")
	fs.IntVar(&c.MaxUnauthenticated, "max-unauthenticated", c.MaxUnauthenticated, "connections that have not authenticated (sending headers or a body, health checks, refused tokens, idle) open at once; beyond it the oldest is closed")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "messages a client connection may send at once above --rate-limit (0: the default)")
	c.NATS.bindFlags(fs)
}

// fileList is a flag that may be repeated, each time adding a file name.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// keyFilesUsed reports whether the keys come from AccessKeyFiles.
func (c *CommandConfig) keyFilesUsed() bool { return c.AccessKey == "" && len(c.AccessKeyFiles) > 0 }

// LoadFiles reads the access key files when they are the source of the keys
// (no AccessKey). Call it after the flags are parsed and before Validate. The
// settings file is read by SettingsStore.
func (c *CommandConfig) LoadFiles() error {
	if err := c.NATS.loadFiles(); err != nil {
		return err
	}
	c.fileKeys, c.fileRaw, c.fileLoaded = nil, nil, true
	if !c.keyFilesUsed() || len(c.AccessKeyFiles) > MaxAccessKeyFiles {
		return nil // Validate reports too many files
	}
	for _, f := range c.AccessKeyFiles {
		b, err := os.ReadFile(f) //nolint:gosec // G304: the path is the operator's own --access-key-file flag
		if err != nil {
			c.fileKeys, c.fileRaw, c.fileLoaded = nil, nil, false
			return fmt.Errorf("reading --access-key-file: %w", err)
		}
		c.fileRaw = append(c.fileRaw, b)
		c.fileKeys = append(c.fileKeys, strings.TrimSpace(string(b)))
	}
	return nil
}

// Validate reports the first problem with c as one sentence: an invalid
// endpoint, reload interval or number of key files, or an invalid access key
// from whichever source gives it (after LoadFiles, the files' too). Messages
// never contain the key.
func (c *CommandConfig) Validate() error {
	if c.Endpoint != "" {
		if _, err := parseEndpoint(c.Endpoint); err != nil {
			return err
		}
	}
	if c.ReloadInterval < 0 {
		return errors.New("the reload interval (--reload-interval) must not be negative")
	}
	if !(c.RateLimit >= 0) || math.IsInf(c.RateLimit, 1) { // also refuses NaN
		return errors.New("the rate limit (--rate-limit) must be a number of messages per second, 0 for no limit")
	}
	if c.RateBurst < 0 {
		return errors.New("the rate burst (--rate-burst) must not be negative")
	}
	if c.ReadHeaderTimeout < 0 || c.BodyTimeout < 0 || c.IdleTimeout < 0 {
		return errors.New("the timeouts (--read-header-timeout, --body-timeout, --idle-timeout) must not be negative")
	}
	if c.MaxUnauthenticated < 0 {
		return errors.New("--max-unauthenticated must not be negative")
	}
	if len(c.AccessKeyFiles) > MaxAccessKeyFiles {
		return fmt.Errorf("--access-key-file is given %d times, at most %d (the primary and the secondary key)", len(c.AccessKeyFiles), MaxAccessKeyFiles)
	}
	if err := c.NATS.validate(c.AccessKey != "" || len(c.AccessKeyFiles) > 0 || c.AccessKeyFromEnv != ""); err != nil {
		return err
	}
	if !c.fileLoaded && c.keyFilesUsed() {
		return nil // the keys are checked once the files are read
	}
	keys, _ := c.givenKeys()
	if err := validateKeys(keys); err != nil {
		if c.primaryFromEnv() {
			return fmt.Errorf("$%s: %w", cmp.Or(c.accessKeyEnv, EnvAccessKey), err)
		}
		return err
	}
	return nil
}

// primaryFromEnv reports whether the primary key is AccessKeyFromEnv.
func (c *CommandConfig) primaryFromEnv() bool {
	return c.AccessKey == "" && c.AccessKeyFromEnv != "" && (len(c.fileKeys) == 0 || c.fileKeys[0] == "")
}

// validateKeys checks keys, primary first; messages say which key, never
// what it is.
func validateKeys(keys []string) error {
	for i, key := range keys {
		if err := ValidateAccessKey(key); err != nil {
			if i > 0 {
				return fmt.Errorf("secondary key: %w", err)
			}
			return err
		}
	}
	return nil
}

// givenKeys returns the keys from the flag, the files (once loaded) or the
// environment, in that order, primary first, and whether they may be
// printed: only a key typed on the command line may. The primary key comes
// from the first file, or from the environment when that file is empty; the
// secondary from the second file, unless it is empty. It returns nil when
// nothing gives a primary key.
func (c *CommandConfig) givenKeys() (keys []string, show bool) {
	if c.AccessKey != "" {
		return []string{c.AccessKey}, true
	}
	primary := c.AccessKeyFromEnv
	if len(c.fileKeys) > 0 && c.fileKeys[0] != "" {
		primary = c.fileKeys[0]
	}
	if primary == "" {
		return nil, false
	}
	keys = []string{primary}
	if len(c.fileKeys) > 1 && c.fileKeys[1] != "" {
		keys = append(keys, c.fileKeys[1])
	}
	return keys, false
}

// ResolveAccessKeys returns the keys the service uses, primary first, from
// the flag, the files or the environment, or a generated one. show reports
// whether they may be printed: only a generated key (the user has no other
// way to learn it) or one typed on the command line; a key from a file or the
// environment (a Kubernetes Secret) must not end up in logs. It reads the
// files if LoadFiles has not.
func (c *CommandConfig) ResolveAccessKeys() (keys []string, show bool, err error) {
	if !c.fileLoaded {
		if err := c.LoadFiles(); err != nil {
			return nil, false, err
		}
	}
	if len(c.AccessKeyFiles) > MaxAccessKeyFiles {
		return nil, false, c.Validate()
	}
	keys, show = c.givenKeys()
	if len(keys) == 0 {
		key, err := webpubsub.NewAccessKey()
		return []string{key}, true, err
	}
	if err := validateKeys(keys); err != nil {
		return nil, false, err
	}
	return keys, show, nil
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
	c.settingsRaw = nil
	if c.SettingsFile == "" {
		return store, nil
	}
	b, err := settings.ReadFile(c.SettingsFile)
	if err != nil {
		return nil, fmt.Errorf("loading hub settings: %w", err)
	}
	if _, err := store.SyncFileData(c.SettingsFile, b); err != nil {
		return nil, fmt.Errorf("loading hub settings: %w", err)
	}
	c.settingsRaw = b
	return store, nil
}
