// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// The API server refuses NATS settings that cannot work, with a message
// that says what to do.
func TestNATSSpecValidation(t *testing.T) {
	ns := newNamespace(t)
	tests := map[string]struct {
		spec chatv1.WebPubSubServiceSpec
		want string // "" when accepted
	}{
		"one replica needs no NATS": {spec: chatv1.WebPubSubServiceSpec{Replicas: ptr.To[int32](1)}},
		"three replicas without NATS": {
			spec: chatv1.WebPubSubServiceSpec{Replicas: ptr.To[int32](3)},
			want: "replicas above 1 share their hubs through NATS",
		},
		"three replicas on a managed NATS": {
			spec: chatv1.WebPubSubServiceSpec{Replicas: ptr.To[int32](3), NATS: &chatv1.NATSSpec{Managed: &chatv1.ManagedNATS{}}},
		},
		"both managed and external": {
			spec: chatv1.WebPubSubServiceSpec{NATS: &chatv1.NATSSpec{Managed: &chatv1.ManagedNATS{},
				External: &chatv1.ExternalNATS{URL: "nats://nats:4222"}}},
			want: "set exactly one of nats.managed",
		},
		"neither": {spec: chatv1.WebPubSubServiceSpec{NATS: &chatv1.NATSSpec{}}, want: "set exactly one of nats.managed"},
		"a managed NATS of 2 servers (no majority survives a loss)": {
			spec: chatv1.WebPubSubServiceSpec{NATS: &chatv1.NATSSpec{Managed: &chatv1.ManagedNATS{Replicas: ptr.To[int32](2)}}},
			want: "Unsupported value: 2",
		},
		"external servers, comma-separated": {
			spec: chatv1.WebPubSubServiceSpec{NATS: &chatv1.NATSSpec{External: &chatv1.ExternalNATS{URL: "tls://a.example:4222, tls://b.example:4222"}}},
		},
		"external URL with a password in it": {
			spec: chatv1.WebPubSubServiceSpec{NATS: &chatv1.NATSSpec{External: &chatv1.ExternalNATS{URL: "nats://user:secret@nats:4222"}}}, //nolint:gosec // G101: the refusal of a URL with a password is what is tested
			want: "without credentials",
		},
		"external URL of another scheme": {
			spec: chatv1.WebPubSubServiceSpec{NATS: &chatv1.NATSSpec{External: &chatv1.ExternalNATS{URL: "http://nats:4222"}}},
			want: "nats://host:port or tls://host:port",
		},
		"21 replicas": {
			spec: chatv1.WebPubSubServiceSpec{Replicas: ptr.To[int32](21), NATS: &chatv1.NATSSpec{Managed: &chatv1.ManagedNATS{}}},
			want: "should be less than or equal to 20",
		},
	}
	i := 0
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			i++
			svc := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("v%d", i), Namespace: ns}, Spec: tc.spec}
			err := suite.client.Create(suite.ctx, svc)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want a refusal saying %q", tc.want)
			case tc.want != "" && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("refused with %v, want %q", err, tc.want)
			}
		})
	}
}

// An instance with three replicas on a managed NATS gets a NATS cluster
// (Secret with a generated password and the configuration, headless
// Service, StatefulSet with routes between its pods, PodDisruptionBudget)
// and a Deployment of three replicas that roll one at a time, connect to it
// with the password, and have their own PodDisruptionBudget. It is Ready
// only once a majority of the NATS servers is ready.
func TestManagedNATS(t *testing.T) {
	ns := newNamespace(t)
	svc := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: ns},
		Spec: chatv1.WebPubSubServiceSpec{Replicas: ptr.To[int32](3), NATS: &chatv1.NATSSpec{Managed: &chatv1.ManagedNATS{}}}}
	mustCreate(t, svc)

	var secret corev1.Secret
	var sts appsv1.StatefulSet
	var headless corev1.Service
	var natsPDB, pdb policyv1.PodDisruptionBudget
	var d appsv1.Deployment
	eventually(t, 30*time.Second, "the NATS objects and the Deployment", func() error {
		if err := getObj(ns, "big-nats", &secret); err != nil {
			return err
		}
		if err := getObj(ns, "big-nats", &sts); err != nil {
			return err
		}
		if err := getObj(ns, "big-nats", &headless); err != nil {
			return err
		}
		if err := getObj(ns, "big-nats", &natsPDB); err != nil {
			return err
		}
		if err := getObj(ns, "big", &pdb); err != nil {
			return err
		}
		return getObj(ns, "big", &d)
	})
	for _, o := range []metav1.Object{&secret, &sts, &headless, &natsPDB, &pdb, &d} {
		if !metav1.IsControlledBy(o, svc) {
			t.Errorf("%s is not controlled by the WebPubSubService", o.GetName())
		}
	}

	password := string(secret.Data[SecretKeyNATSPassword])
	config := string(secret.Data[SecretKeyNATSConfig])
	if len(password) < 32 {
		t.Fatalf("generated NATS password of %d bytes, want at least 32", len(password))
	}
	for _, want := range []string{
		"server_name: $POD_NAME", "port: 4222", "http_port: 8222", `user: "chathub"`, `password: "` + password + `"`,
		`name: "big"`, "port: 6222",
		fmt.Sprintf(`"nats://chathub:%s@big-nats-0.big-nats.%s.svc:6222"`, password, ns),
		fmt.Sprintf(`"nats://chathub:%s@big-nats-2.big-nats.%s.svc:6222"`, password, ns),
	} {
		if !strings.Contains(config, want) {
			t.Errorf("nats.conf lacks %q:\n%s", want, strings.ReplaceAll(config, password, "<password>"))
		}
	}
	if *sts.Spec.Replicas != 3 || sts.Spec.ServiceName != "big-nats" || sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("StatefulSet replicas %d, serviceName %q, policy %s", *sts.Spec.Replicas, sts.Spec.ServiceName, sts.Spec.PodManagementPolicy)
	}
	nc := sts.Spec.Template.Spec.Containers[0]
	if nc.Image != DefaultNATSImage || !slices.Equal(nc.Args, []string{"--config", "/etc/nats/nats.conf"}) ||
		nc.ReadinessProbe == nil || nc.Resources.Requests.Memory().IsZero() {
		t.Errorf("NATS container image %s args %q probe %v requests %v", nc.Image, nc.Args, nc.ReadinessProbe, nc.Resources.Requests)
	}
	checkRestrictedPod(t, "NATS", &sts.Spec.Template.Spec)
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Errorf("NATS Service clusterIP %q publishNotReadyAddresses %v, want a headless Service that names pods before they are ready",
			headless.Spec.ClusterIP, headless.Spec.PublishNotReadyAddresses)
	}
	if natsPDB.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudgets allow %v NATS and %v PubSub pods down, want 1 each", natsPDB.Spec.MaxUnavailable, pdb.Spec.MaxUnavailable)
	}

	if *d.Spec.Replicas != 3 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("Deployment replicas %d strategy %+v, want 3 rolling with none unavailable", *d.Spec.Replicas, d.Spec.Strategy)
	}
	args := d.Spec.Template.Spec.Containers[0].Args
	wantArgs := []string{"--nats-url", "nats://big-nats." + ns + ".svc:4222", "--nats-subject-prefix", "chathub." + ns + ".big",
		"--nats-user", "chathub", "--nats-password-file", "/etc/chathub/nats/password"}
	if i := slices.Index(args, "--nats-url"); i < 0 || !slices.Equal(args[i:], wantArgs) {
		t.Errorf("PubSub args %q, want them to end with %q", args, wantArgs)
	}
	if strings.Contains(strings.Join(args, " "), password) {
		t.Errorf("the NATS password is in the PubSub service's args")
	}

	// No pods run in envtest: the instance waits for NATS, and says so.
	markAvailable(t, ns, "big")
	waitInstance(t, ns, "big", func(st chatv1.WebPubSubServiceStatus) error {
		c := meta.FindStatusCondition(st.Conditions, chatv1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != chatv1.ReasonNATSUnavailable ||
			!strings.Contains(c.Message, "0 of 3 servers ready, 2 needed") {
			return fmt.Errorf("Ready is %+v", c)
		}
		if st.NATS != "nats://big-nats."+ns+".svc:4222" {
			return fmt.Errorf("status.nats %q", st.NATS)
		}
		return nil
	})
	setNATSReady(t, ns, "big-nats", 2)
	waitInstance(t, ns, "big", func(st chatv1.WebPubSubServiceStatus) error {
		if !meta.IsStatusConditionTrue(st.Conditions, chatv1.ConditionReady) || st.Replicas != 3 {
			return fmt.Errorf("Ready %v, replicas %d", meta.FindStatusCondition(st.Conditions, chatv1.ConditionReady), st.Replicas)
		}
		return nil
	})

	// The password is generated once: a later reconcile (here, after a
	// scale down to one replica) keeps it, and the budget of the
	// PubSub pods goes.
	patched := svc.DeepCopy()
	if err := getObj(ns, "big", patched); err != nil {
		t.Fatal(err)
	}
	patched.Spec.Replicas = ptr.To[int32](1)
	if err := suite.client.Update(suite.ctx, patched); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "one replica and no PubSub budget", func() error {
		if err := getObj(ns, "big", &d); err != nil {
			return err
		}
		if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			return fmt.Errorf("Deployment replicas %d strategy %s", *d.Spec.Replicas, d.Spec.Strategy.Type)
		}
		if err := getObj(ns, "big", &pdb); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the PubSub PodDisruptionBudget is still there (%w)", err)
		}
		return nil
	})
	if err := getObj(ns, "big-nats", &secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data[SecretKeyNATSPassword]) != password {
		t.Errorf("the NATS password changed on a later reconcile")
	}
}

// An external NATS: its Secrets are checked (a missing one or a missing key
// is a condition the user can act on) and mounted, never changed.
func TestExternalNATS(t *testing.T) {
	ns := newNamespace(t)
	svc := &chatv1.WebPubSubService{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: ns},
		Spec: chatv1.WebPubSubServiceSpec{Replicas: ptr.To[int32](2), NATS: &chatv1.NATSSpec{External: &chatv1.ExternalNATS{
			URL:                  "tls://nats.messaging.svc:4222",
			CredentialsSecretRef: &corev1.LocalObjectReference{Name: "nats-creds"},
			TLSSecretRef:         &corev1.LocalObjectReference{Name: "nats-tls"},
		}}}}
	mustCreate(t, svc)
	waitInstanceReason(t, ns, "ext", chatv1.ReasonSourceSecretNotFound, "credentialsSecretRef: Secret nats-creds not found")

	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "nats-creds", Namespace: ns},
		Data: map[string][]byte{"user": []byte("chat")}}
	mustCreate(t, creds)
	waitInstanceReason(t, ns, "ext", chatv1.ReasonSourceSecretKeyMissing, `needs key "creds"`)

	creds.Data = map[string][]byte{"creds": []byte("-----BEGIN NATS USER JWT-----\n…")}
	if err := suite.client.Update(suite.ctx, creds); err != nil {
		t.Fatal(err)
	}
	tls := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "nats-tls", Namespace: ns},
		Data: map[string][]byte{"tls.crt": []byte("x"), "tls.key": []byte("y")}}
	mustCreate(t, tls)
	waitInstanceReason(t, ns, "ext", chatv1.ReasonSourceSecretKeyMissing, `lacks key "ca.crt"`)

	tls.Data["ca.crt"] = []byte("ca")
	if err := suite.client.Update(suite.ctx, tls); err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	eventually(t, 30*time.Second, "the Deployment", func() error { return getObj(ns, "ext", &d) })
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	for _, want := range []string{"--nats-url tls://nats.messaging.svc:4222", "--nats-subject-prefix chathub." + ns + ".ext",
		"--nats-creds-file /etc/chathub/nats/creds", "--nats-tls-ca-file /etc/chathub/nats-tls/ca.crt",
		"--nats-tls-cert-file /etc/chathub/nats-tls/tls.crt", "--nats-tls-key-file /etc/chathub/nats-tls/tls.key"} {
		if !strings.Contains(args, want) {
			t.Errorf("PubSub args %q lack %q", args, want)
		}
	}
	if strings.Contains(args, "--nats-password-file") || len(d.Spec.Template.Spec.Containers[0].Env) != 0 {
		t.Errorf("a creds file and a password both given: args %q env %v", args, d.Spec.Template.Spec.Containers[0].Env)
	}

	// A user and password instead: the user from the Secret through the
	// environment, the password as a file; the creds file goes.
	creds.Data = map[string][]byte{"user": []byte("chat"), "password": []byte("pw")}
	if err := suite.client.Update(suite.ctx, creds); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the Deployment with a user and password", func() error {
		if err := getObj(ns, "ext", &d); err != nil {
			return err
		}
		c := d.Spec.Template.Spec.Containers[0]
		args := strings.Join(c.Args, " ")
		if !strings.Contains(args, "--nats-password-file /etc/chathub/nats/password") || strings.Contains(args, "--nats-creds-file") ||
			len(c.Env) != 1 || c.Env[0].Name != "CHATHUB_NATS_USER" || c.Env[0].ValueFrom.SecretKeyRef.Name != "nats-creds" ||
			c.Env[0].ValueFrom.SecretKeyRef.Key != "user" {
			return fmt.Errorf("args %q env %+v", args, c.Env)
		}
		return nil
	})
	var mounted []string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			mounted = append(mounted, v.Secret.SecretName)
		}
	}
	if !slices.Contains(mounted, "nats-creds") || !slices.Contains(mounted, "nats-tls") {
		t.Errorf("mounted Secrets %v, want the credentials and TLS Secrets", mounted)
	}
	var sts appsv1.StatefulSet
	if err := getObj(ns, "ext-nats", &sts); !apierrors.IsNotFound(err) {
		t.Errorf("an external NATS got a StatefulSet (%v)", err)
	}
	for _, s := range []*corev1.Secret{creds, tls} {
		var now corev1.Secret
		if err := getObj(ns, s.Name, &now); err != nil {
			t.Fatal(err)
		}
		if len(now.OwnerReferences) != 0 || now.ResourceVersion != s.ResourceVersion {
			t.Errorf("the user's Secret %s was changed", s.Name)
		}
	}
	markAvailable(t, ns, "ext")
	waitInstance(t, ns, "ext", func(st chatv1.WebPubSubServiceStatus) error {
		if !meta.IsStatusConditionTrue(st.Conditions, chatv1.ConditionReady) || st.NATS != "tls://nats.messaging.svc:4222" {
			return fmt.Errorf("Ready %v, nats %q", meta.FindStatusCondition(st.Conditions, chatv1.ConditionReady), st.NATS)
		}
		return nil
	})
}

// waitInstance waits until the status of the WebPubSubService passes check.
func waitInstance(t *testing.T, ns, name string, check func(chatv1.WebPubSubServiceStatus) error) {
	t.Helper()
	eventually(t, 30*time.Second, "status of "+name, func() error {
		var svc chatv1.WebPubSubService
		if err := getObj(ns, name, &svc); err != nil {
			return err
		}
		return check(svc.Status)
	})
}

// waitInstanceReason waits until the instance is not Ready for reason,
// with a message containing msg.
func waitInstanceReason(t *testing.T, ns, name, reason, msg string) {
	t.Helper()
	waitInstance(t, ns, name, func(st chatv1.WebPubSubServiceStatus) error {
		c := meta.FindStatusCondition(st.Conditions, chatv1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != reason || !strings.Contains(c.Message, msg) {
			return fmt.Errorf("Ready is %+v, want False/%s with %q", c, reason, msg)
		}
		return nil
	})
}

// setNATSReady plays the StatefulSet controller: ready servers are ready.
func setNATSReady(t *testing.T, ns, name string, ready int32) {
	t.Helper()
	eventually(t, 30*time.Second, "marking StatefulSet "+name+" ready", func() error {
		var sts appsv1.StatefulSet
		if err := getObj(ns, name, &sts); err != nil {
			return err
		}
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: *sts.Spec.Replicas,
			ReadyReplicas: ready, AvailableReplicas: ready, CurrentReplicas: *sts.Spec.Replicas}
		return suite.client.Status().Update(suite.ctx, &sts)
	})
}
