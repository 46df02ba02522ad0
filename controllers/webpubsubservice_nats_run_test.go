// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/internal/cli"
	"github.com/chathub/chathub/internal/testnats"
	"github.com/chathub/chathub/webpubsub"
)

// What the operator writes for a managed NATS works together: a real NATS
// server runs the configuration from the NATS Secret (the operator's
// generated password), and two PubSub replicas run with the Deployment's
// args, keys and password file. Both become ready (which needs NATS), and a
// broadcast sent to one reaches a client of the other. A replica given a
// wrong password is not ready.
func TestManagedNATSRunsWithTheOperatorsConfiguration(t *testing.T) {
	ns := newNamespace(t)
	svc := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: "duo", Namespace: ns},
		Spec: chatv1.WebPubSubServiceSpec{Replicas: ptr.To[int32](2), NATS: &chatv1.NATSSpec{Managed: &chatv1.ManagedNATS{}}}}
	mustCreate(t, svc)
	var natsSecret, keys, settings corev1.Secret
	var d appsv1.Deployment
	eventually(t, 30*time.Second, "the instance's Secrets and Deployment", func() error {
		for name, obj := range map[string]*corev1.Secret{"duo-nats": &natsSecret, "duo-keys": &keys, "duo-settings": &settings} {
			if err := getObj(ns, name, obj); err != nil {
				return err
			}
		}
		return getObj(ns, "duo", &d)
	})

	// The NATS server, from the operator's configuration file; on loopback
	// ports, without the routes (they name the pods' in-cluster DNS names).
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, natsSecret.Data[SecretKeyNATSConfig], 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POD_NAME", "duo-nats-0")
	opts, err := natsserver.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server refuses the operator's configuration: %v", err)
	}
	if opts.ServerName != "duo-nats-0" || opts.Cluster.Name != "duo" || len(opts.Routes) != 0 && len(opts.Routes) != 3 {
		t.Errorf("configuration: server %q, cluster %q, %d routes", opts.ServerName, opts.Cluster.Name, len(opts.Routes))
	}
	opts.Host, opts.Port, opts.HTTPPort, opts.Cluster.Port, opts.Routes = "127.0.0.1", -1, 0, 0, nil
	opts.PidFile = ""
	natsSrv := testnats.Start(t, opts)
	toLocalNATS := func(flag, value string) string {
		if flag == "--nats-url" {
			return natsSrv.ClientURL()
		}
		return value
	}

	replicas := []string{
		startPubSubPod(t, &d, toLocalNATS, &natsSecret, &keys, &settings),
		startPubSubPod(t, &d, toLocalNATS, &natsSecret, &keys, &settings),
	}
	for _, addr := range replicas {
		eventually(t, 20*time.Second, "replica "+addr+" is ready", func() error { return ready(addr) })
	}

	// A client on the second replica gets a broadcast sent to the first.
	key := string(keys.Data[SecretKeyPrimaryKey])
	client := func(addr string) *webpubsub.Client {
		cs := &webpubsub.ConnectionString{Endpoint: mustURL(t, "http://"+addr), AccessKey: key, Version: "1.0"}
		c, err := webpubsub.NewClient(cs, "lobby", nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	access, err := webpubsub.ClientAccessFor(mustURL(t, "http://"+replicas[1]), key, "lobby", webpubsub.ClientTokenOptions{UserID: "ann"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	received := dialAndRead(t, access.URL)
	eventually(t, 10*time.Second, "the broadcast crosses NATS", func() error {
		if err := client(replicas[0]).SendToAll(t.Context(), webpubsub.TextContent("across"), nil); err != nil {
			return err
		}
		select {
		case msg := <-received:
			if msg != "across" {
				return fmt.Errorf("the client received %q", msg)
			}
			return nil
		case <-time.After(time.Second):
			return fmt.Errorf("nothing received")
		}
	})

	// A wrong password: NATS refuses the replica, which ends with an error
	// that says so (the pod restarts with it in its log), without the
	// password.
	wrong := natsSecret.DeepCopy()
	wrong.Data[SecretKeyNATSPassword] = []byte(strings.Repeat("0", 48))
	_, args := podArgs(t, &d, toLocalNATS, wrong, &keys, &settings)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err = cli.RunPubSub(ctx, args)
	if err == nil || !strings.Contains(err.Error(), "Authorization Violation") || strings.Contains(err.Error(), strings.Repeat("0", 48)) {
		t.Errorf("a replica with a wrong NATS password ended with %v, want the authorization violation, without the password", err)
	}
}

// ready is nil when the service at addr answers /readyz with 200.
func ready(addr string) error {
	res, err := http.Get("http://" + addr + "/readyz") //nolint:noctx // a loopback probe in a test
	if err != nil {
		return err
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", res.Status)
	}
	return nil
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// dialAndRead connects a raw WebSocket client (no subprotocol: messages are
// the bare payload) and returns the text messages it receives.
func dialAndRead(t *testing.T, clientURL string) <-chan string {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(clientURL, nil)
	if err != nil {
		t.Fatalf("connecting the client: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	out := make(chan string, 16)
	go func() {
		defer close(out)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			out <- string(b)
		}
	}()
	return out
}
