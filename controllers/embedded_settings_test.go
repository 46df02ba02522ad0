// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/internal/cli"
	"github.com/chathub/chathub/webpubsub"
)

// A pod of an embedded PubSub service that starts after a rollout (a key
// rotation, a crash, a node drain) serves the hub's event handler at once:
// the operator writes the settings into the connection Secret the pod
// mounts. The test plays the kubelet: it writes the Secret's items where the
// Deployment mounts them and runs `chathub pubsub` with the Deployment's
// args, then asks the service for the hub's settings.
func TestEmbeddedPubSubStartsWithTheHandler(t *testing.T) {
	for name, tc := range map[string]struct {
		registration chatv1.RegistrationMode
		wantHandler  bool
	}{
		"registered by the operator: the pod starts with the handler": {wantHandler: true},
		"registered by hand: the pod starts with no settings for the hub": {
			registration: chatv1.RegistrationManual,
		},
	} {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			hub := embeddedHub("rooms", ns)
			hub.Spec.Hub = "Rooms"
			hub.Spec.EventHandler.Registration = tc.registration
			hub.Spec.EventHandler.SystemEvents = []chatv1.SystemEvent{chatv1.SystemEventConnected, chatv1.SystemEventDisconnected}
			mustCreate(t, hub)

			var secret corev1.Secret
			var d appsv1.Deployment
			eventually(t, 30*time.Second, "the connection Secret and the PubSub Deployment", func() error {
				if err := getObj(ns, "rooms-connection", &secret); err != nil {
					return err
				}
				return getObj(ns, "rooms-pubsub", &d)
			})
			hub, err := getHub("rooms", ns)
			if err != nil {
				t.Fatal(err)
			}
			addr := startPubSubPod(t, &d, nil, &secret)

			hubs, err := webpubsub.NewHubsClient("http://"+addr, EmbeddedResourceID(hub),
				webpubsub.AccessKeyTokenSource(string(secret.Data[SecretKeyAccessKey])), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := hubs.Get(t.Context(), "rooms")
			if !tc.wantHandler {
				if !webpubsub.IsNotFound(err) {
					t.Fatalf("settings of hub Rooms: %+v, %v; want none (404)", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("reading the settings of hub Rooms from the new pod: %v", err)
			}
			want := []webpubsub.EventHandlerSettings{DesiredEventHandler(hub)}
			if diff := cmp.Diff(want, got.Properties.EventHandlers); diff != "" {
				t.Errorf("event handlers of the new pod (-want +got):\n%s", diff)
			}
			if want[0].URLTemplate != "http://rooms."+ns+".svc:8081/eventhandler" || len(want[0].SystemEvents) != 2 {
				t.Errorf("desired handler %+v does not follow the spec", want[0])
			}
		})
	}
}

// startPubSubPod runs the PubSub service as a pod of d would (podArgs),
// and returns its address once it listens.
func startPubSubPod(t *testing.T, d *appsv1.Deployment, rewrite func(flag, value string) string, secrets ...*corev1.Secret) string {
	t.Helper()
	addr, args := podArgs(t, d, rewrite, secrets...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cli.RunPubSub(ctx, args) }() // what the pod's `chathub pubsub` runs
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("the PubSub service ended with %v", err)
		}
	})
	eventually(t, 10*time.Second, "the PubSub service listens", func() error {
		select {
		case err := <-done:
			done <- err
			return errors.Join(errors.New("the PubSub service ended"), err)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err
	})
	return addr
}

// podArgs prepares what a pod of d runs with: the items of the Secrets d
// mounts (from secrets, by name) written where d mounts them, d's
// environment from those Secrets, and d's args (without the subcommand)
// with --listen on a free loopback port and each value passed through
// rewrite (nil: none). It returns that address and the args.
func podArgs(t *testing.T, d *appsv1.Deployment, rewrite func(flag, value string) string, secrets ...*corev1.Secret) (string, []string) {
	t.Helper()
	byName := map[string]*corev1.Secret{}
	for _, s := range secrets {
		byName[s.Name] = s
	}
	c := d.Spec.Template.Spec.Containers[0]
	mounts := map[string]string{} // volume → its directory here
	var paths []string            // mount path → directory, for the args
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		secret, ok := byName[v.Secret.SecretName]
		if !ok {
			t.Fatalf("the Deployment mounts Secret %s, which the test did not give", v.Secret.SecretName)
		}
		dir := t.TempDir()
		mounts[v.Name] = dir
		items := v.Secret.Items
		if len(items) == 0 { // the whole Secret, one file per key
			for k := range secret.Data {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, item := range items {
			data, ok := secret.Data[item.Key]
			if !ok {
				// The kubelet would not start the pod.
				t.Fatalf("the Deployment mounts key %s, which Secret %s lacks", item.Key, secret.Name)
			}
			if err := os.WriteFile(filepath.Join(dir, item.Path), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, m := range c.VolumeMounts {
		if dir, ok := mounts[m.Name]; ok {
			paths = append(paths, m.MountPath, dir)
		}
	}
	for _, e := range c.Env {
		ref := e.ValueFrom.SecretKeyRef
		if ref == nil || byName[ref.Name] == nil {
			t.Fatalf("env %s comes from something the test did not give", e.Name)
		}
		t.Setenv(e.Name, string(byName[ref.Name].Data[ref.Key]))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	args := d.Spec.Template.Spec.Containers[0].Args
	if len(args) == 0 || args[0] != "pubsub" {
		t.Fatalf("PubSub container args %q", args)
	}
	var rewritten []string
	mountPaths := strings.NewReplacer(paths...)
	for i := 1; i < len(args); i++ {
		a := mountPaths.Replace(args[i])
		if args[i-1] == "--listen" {
			a = addr
		}
		if rewrite != nil {
			a = rewrite(args[i-1], a)
		}
		rewritten = append(rewritten, a)
	}
	return addr, rewritten
}
