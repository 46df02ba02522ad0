package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/chathub/chathub/pubsub"
	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// envAccessKey names the environment variable that may hold the access key.
const envAccessKey = "WEBPUBSUB_ACCESS_KEY"

// pubSubConfig is the configuration of the 'pubsub' subcommand.
type pubSubConfig struct {
	listen, endpoint, accessKey, accessKeyFile, settingsFile, logLevel string
}

// runPubSub runs the 'pubsub' subcommand: the PubSub service (Web PubSub-compatible). It
// prints the connection string on stdout and serves until ctx ends. The key is printed only
// when it was generated or typed with --access-key; a key fed from a file or the environment
// (a Kubernetes Secret) is redacted, so it never ends up in pod logs.
func runPubSub(ctx context.Context, args []string) error {
	var c pubSubConfig
	fs := flag.NewFlagSet("pubsub", flag.ContinueOnError)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:7070", "address to serve on")
	fs.StringVar(&c.endpoint, "endpoint", "", "endpoint advertised in the connection string (default http://<listen address>)")
	fs.StringVar(&c.accessKey, "access-key", "", "access key, at least 32 characters (default: $"+envAccessKey+", --access-key-file, or a generated one)")
	fs.StringVar(&c.accessKeyFile, "access-key-file", "", "file holding the access key (e.g. a mounted Secret)")
	fs.StringVar(&c.settingsFile, "settings-file", "", `hub settings JSON: {"hubs":{"<hub>":{"eventHandlers":[...]}}}`)
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("%w: --log-level %q is not debug, info, warn or error", errUsage, c.logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	key, showKey, err := c.resolveAccessKey()
	if err != nil {
		return err
	}
	store := settings.NewStore()
	if c.settingsFile != "" {
		if err := store.LoadFile(c.settingsFile); err != nil {
			return fmt.Errorf("loading hub settings: %w", err)
		}
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.listen, err)
	}
	defer ln.Close()
	endpoint, err := advertisedEndpoint(c.endpoint, ln.Addr().String())
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	srv, err := pubsub.New(pubsub.Config{Endpoint: endpoint, AccessKeys: []string{key}, Logger: log, Settings: store})
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintln(os.Stdout, printedConnectionString(srv.ConnectionString(), showKey))
	log.Info("Serving the PubSub service", "listen", ln.Addr().String(), "endpoint", endpoint.String())

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("Shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	return errors.Join(shutErr, hs.Shutdown(sctx))
}

// resolveAccessKey picks the key from the flag, the file or the environment, or generates one.
// show reports whether the key may be printed: only a generated key (the user has no other
// way to learn it) or one the user typed on the command line.
func (c *pubSubConfig) resolveAccessKey() (key string, show bool, err error) {
	key, show = c.accessKey, true
	if key == "" && c.accessKeyFile != "" {
		b, err := os.ReadFile(c.accessKeyFile)
		if err != nil {
			return "", false, fmt.Errorf("reading --access-key-file: %w", err)
		}
		key, show = strings.TrimSpace(string(b)), false
	}
	if key == "" {
		key, show = os.Getenv(envAccessKey), false
	}
	if key == "" {
		key, err := webpubsub.NewAccessKey()
		return key, true, err
	}
	if err := pubsub.ValidateAccessKey(key); err != nil {
		return "", false, fmt.Errorf("%w: %v", errUsage, err)
	}
	return key, show, nil
}

// printedConnectionString is the line printed on start: the connection string, with the key
// redacted unless show is set.
func printedConnectionString(full string, show bool) string {
	if show {
		return full
	}
	cs, err := webpubsub.ParseConnectionString(full)
	if err != nil {
		return "the connection string could not be formatted"
	}
	return cs.String()
}

// advertisedEndpoint returns --endpoint, or http://<bound address>.
func advertisedEndpoint(flagValue, bound string) (*url.URL, error) {
	if flagValue == "" {
		return &url.URL{Scheme: "http", Host: bound}, nil
	}
	u, err := url.Parse(flagValue)
	if err == nil && u.User != nil {
		// Not quoted: the user info may be a password.
		return nil, errors.New("--endpoint must not have user info (user:password@)")
	}
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--endpoint %q must be an http(s) URL with a host", flagValue)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("--endpoint %q must not have a path", flagValue)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("--endpoint %q must not have a query or fragment", flagValue)
	}
	u.Path = ""
	return u, nil
}
