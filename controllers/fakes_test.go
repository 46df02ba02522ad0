// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/pubsub"
	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// fakeCluster plays the cluster network and kubelet for envtest, which runs
// no pods: the first connection to <name>-pubsub.<ns>.svc:7070 starts the
// real PubSub service with the key from the ChatHub's connection Secret, and
// the first connection to <name>.<ns>.svc:80 (or the internal port 8081)
// starts a chat server event
// handler (webpubsub.NewEventHandler) that allows the origin of the
// connection Secret's endpoint, as the chat server does.
type fakeCluster struct {
	c       client.Client
	mu      sync.Mutex
	routes  map[string]string // in-cluster host:port → 127.0.0.1:port
	stores  map[string]*settings.Store
	servers []*httptest.Server
	emus    []*pubsub.Server
	down    syncMap[string, bool]
	// hits counts the requests each in-cluster address received.
	hits syncMap[string, *atomic.Int64]
}

// requests is the number of requests addr (host:port) received.
func (f *fakeCluster) requests(addr string) int64 {
	if n, ok := f.hits.load(addr); ok {
		return n.Load()
	}
	return 0
}

func newFakeCluster(c client.Client) *fakeCluster {
	return &fakeCluster{c: c, routes: map[string]string{}, stores: map[string]*settings.Store{}}
}

// Close stops every server the cluster started.
func (f *fakeCluster) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.servers {
		s.Close()
	}
	for _, e := range f.emus {
		_ = e.Shutdown(context.Background())
	}
}

// setDown makes an in-cluster address unreachable (or reachable again).
func (f *fakeCluster) setDown(addr string, down bool) { f.down.store(addr, down) }

// DialContext is the http.Transport dialer that resolves in-cluster names.
func (f *fakeCluster) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d, _ := f.down.load(addr); d {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}
	target, err := f.route(ctx, addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

// store returns the hub-settings store of the PubSub service of hub.
func (f *fakeCluster) store(hub *chatv1.ChatHub) *settings.Store {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stores[EmbeddedEndpoint(hub).Host]
}

// instanceStore returns the hub-settings store of the WebPubSubService
// name in ns, nil before a client dialled it.
func (f *fakeCluster) instanceStore(ns, name string) *settings.Store {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stores[InstanceEndpoint(ns, name).Host]
}

func (f *fakeCluster) route(ctx context.Context, addr string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.routes[addr]; ok {
		return t, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return addr, nil // the test's own servers (local Azure)
	}
	parts := strings.Split(host, ".")
	if len(parts) != 3 || parts[2] != "svc" {
		return "", fmt.Errorf("no such host %s", host)
	}
	name, ns := parts[0], parts[1]
	var h http.Handler
	switch port {
	case "7070":
		h, err = f.startLocalService(ctx, name, ns, addr)
	case "80", "8081": // the chat server's public and internal ports
		h, err = f.startChatServer(ctx, name, ns)
	default:
		err = fmt.Errorf("nothing listens on %s", addr)
	}
	if err != nil {
		return "", err
	}
	hits := new(atomic.Int64)
	f.hits.store(addr, hits)
	next := h
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		next.ServeHTTP(w, r)
	}))
	f.servers = append(f.servers, srv)
	f.routes[addr] = srv.Listener.Addr().String()
	return f.routes[addr], nil
}

func (f *fakeCluster) connectionSecret(ctx context.Context, name, ns string) (*corev1.Secret, error) {
	var s corev1.Secret
	err := f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-connection"}, &s)
	return &s, err
}

// startLocalService starts the PubSub service of a WebPubSubService name
// (both keys from its keys Secret) or of the embedded ChatHub of
// <name>-pubsub (the key from its connection Secret).
func (f *fakeCluster) startLocalService(ctx context.Context, name, ns, addr string) (http.Handler, error) {
	var keys []string
	var svc chatv1.WebPubSubService
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err == nil {
		var s corev1.Secret
		if err := f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: InstanceKeysSecretName(name)}, &s); err != nil {
			return nil, fmt.Errorf("PubSub service has no keys: %w", err)
		}
		keys = []string{string(s.Data[SecretKeyPrimaryKey]), string(s.Data[SecretKeySecondaryKey])}
	} else {
		s, err := f.connectionSecret(ctx, strings.TrimSuffix(name, "-pubsub"), ns)
		if err != nil {
			return nil, fmt.Errorf("PubSub service has no key: %w", err)
		}
		keys = []string{string(s.Data[SecretKeyAccessKey])}
	}
	store := settings.NewStore()
	emu, err := pubsub.New(pubsub.Config{
		Endpoint:   &url.URL{Scheme: "http", Host: addr},
		AccessKeys: keys,
		Settings:   store,
	})
	if err != nil {
		return nil, err
	}
	f.emus = append(f.emus, emu)
	f.stores[addr] = store
	return emu.Handler(), nil
}

func (f *fakeCluster) startChatServer(ctx context.Context, name, ns string) (http.Handler, error) {
	s, err := f.connectionSecret(ctx, name, ns)
	if err != nil {
		return nil, fmt.Errorf("chat server has no connection: %w", err)
	}
	cs, err := webpubsub.ParseConnectionString(string(s.Data[SecretKeyConnectionString]))
	if err != nil {
		return nil, err
	}
	var hub chatv1.ChatHub
	if err := f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &hub); err != nil {
		return nil, err
	}
	eh, err := webpubsub.NewEventHandler(webpubsub.EventHandlerOptions{
		Hub:            EffectiveHub(&hub),
		AccessKeys:     func() []string { return []string{cs.AccessKey} },
		AllowedOrigins: []string{cs.Endpoint.Hostname()},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle(EventHandlerPath, eh)
	return mux, nil
}

// fakeAzure is a local Microsoft Entra token endpoint (TLS, as MSAL
// requires) and an ARM-shaped gateway in front of a real PubSub service: the
// gateway accepts only the bearer token the token endpoint issued, then
// signs the request with the service's access key.
type fakeAzure struct {
	entra      *httptest.Server
	arm        *httptest.Server
	emu        *pubsub.Server
	store      *settings.Store
	credential azcore.TokenCredential
	token      string
	accessKey  string
	// armCalls counts requests that reached the gateway with the Entra token.
	armCalls atomic.Int64
	// down makes the gateway answer 503.
	down atomic.Bool
}

const fakeTenant = "00000000-0000-0000-0000-0000000000aa"

func newFakeAzure() (*fakeAzure, error) {
	a := &fakeAzure{token: "entra-token-" + randomHex(8), accessKey: randomHex(32), store: settings.NewStore()}
	a.entra = httptest.NewTLSServer(http.HandlerFunc(a.serveEntra))
	a.arm = httptest.NewUnstartedServer(nil)
	a.arm.Start()
	endpoint, _ := url.Parse(a.arm.URL)
	emu, err := pubsub.New(pubsub.Config{Endpoint: endpoint, AccessKeys: []string{a.accessKey}, Settings: a.store})
	if err != nil {
		return nil, err
	}
	a.emu = emu
	a.arm.Config.Handler = a.gateway(emu.Handler())
	cred, err := azidentity.NewClientSecretCredential(fakeTenant, "client-id", "client-secret", &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: a.entra.URL + "/"},
			Transport: a.entra.Client(),
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, err
	}
	a.credential = cred
	return a, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)
}

// Close stops the servers.
func (a *fakeAzure) Close() {
	a.entra.Close()
	a.arm.Close()
	_ = a.emu.Shutdown(context.Background())
}

// ResourceID is the ARM ID the gateway serves.
func (a *fakeAzure) ResourceID() string {
	return "/subscriptions/sub-1/resourceGroups/rg-chat/providers/Microsoft.SignalRService/webPubSub/awps-test"
}

func (a *fakeAzure) serveEntra(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	base := a.entra.URL + "/" + fakeTenant
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/v2.0",
		})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_secret") != "client-secret" ||
			!strings.Contains(r.PostForm.Get("scope"), webpubsub.ManagementScope) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": a.token, "token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
		})
	default:
		http.NotFound(w, r)
	}
}

// gateway checks the Entra token, then re-signs the request for the local
// service's ARM-shaped API (which accepts access-key tokens).
func (a *fakeAzure) gateway(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/subscriptions/") {
			next.ServeHTTP(w, r)
			return
		}
		if a.down.Load() {
			http.Error(w, `{"error":{"code":"ServiceUnavailable","message":"down for the test"}}`, http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+a.token {
			http.Error(w, `{"error":{"code":"InvalidAuthenticationToken","message":"not the Entra token"}}`, http.StatusUnauthorized)
			return
		}
		a.armCalls.Add(1)
		aud := "http://" + r.Host + r.URL.Path
		tok, err := webpubsub.ServiceToken(a.accessKey, aud, time.Hour, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		next.ServeHTTP(w, r)
	})
}
