// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// getObj reads an object of the test namespace.
func getObj(ns, name string, obj client.Object) error {
	return suite.client.Get(suite.ctx, client.ObjectKey{Namespace: ns, Name: name}, obj)
}

// checkOwned fails unless obj is controlled by hub.
func checkOwned(t *testing.T, obj client.Object, hub *chatv1.ChatHub) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != hub.UID || ref.Kind != "ChatHub" || ref.APIVersion != chatv1.GroupVersion.String() {
		t.Errorf("%T %s: controller reference %+v, want the ChatHub %s", obj, obj.GetName(), ref, hub.UID)
	}
}

// checkRestricted fails unless the pod template follows the restricted Pod
// Security Standard.
func checkRestricted(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	checkRestrictedPod(t, "Deployment "+d.Name, &d.Spec.Template.Spec)
}

// checkRestrictedPod checks that the pod spec of what follows the
// restricted Pod Security Standard.
func checkRestrictedPod(t *testing.T, what string, pod *corev1.PodSpec) {
	t.Helper()
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v is not restricted", what, psc)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
			!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || sc.SeccompProfile == nil ||
			sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s container %s: security context %+v is not restricted", what, c.Name, sc)
		}
	}
}

func TestReconcileCreatesEveryObject(t *testing.T) {
	ns := newNamespace(t)
	hub := embeddedHub("lobby", ns)
	hub.Spec.Ingress = &chatv1.IngressSpec{Host: "chat.example.com", TLSSecretName: "chat-tls", Annotations: map[string]string{"a": "b"}}
	mustCreate(t, hub)
	hub = waitCondition(t, "lobby", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)

	var secret corev1.Secret
	var server, local appsv1.Deployment
	var serverSvc, localSvc corev1.Service
	var ing networkingv1.Ingress
	for name, obj := range map[string]client.Object{
		"lobby-connection": &secret, "lobby": &server, "lobby-pubsub": &local,
	} {
		if err := getObj(ns, name, obj); err != nil {
			t.Fatalf("getting %T %s: %v", obj, name, err)
		}
		checkOwned(t, obj, hub)
	}
	for name, obj := range map[string]client.Object{"lobby": &serverSvc, "lobby-pubsub": &localSvc} {
		if err := getObj(ns, name, obj); err != nil {
			t.Fatalf("getting Service %s: %v", name, err)
		}
		checkOwned(t, obj, hub)
	}
	if err := getObj(ns, "lobby", &ing); err != nil {
		t.Fatalf("getting the Ingress: %v", err)
	}
	checkOwned(t, &ing, hub)
	checkRestricted(t, &server)
	checkRestricted(t, &local)

	if !slices.Contains(hub.Finalizers, Finalizer) {
		t.Errorf("finalizers %v lack %s", hub.Finalizers, Finalizer)
	}
	cs, err := webpubsub.ParseConnectionString(string(secret.Data[SecretKeyConnectionString]))
	if err != nil {
		t.Fatalf("the connection Secret holds no valid connection string: %v", err)
	}
	if want := "http://lobby-pubsub." + ns + ".svc:7070"; cs.Endpoint.String() != want || cs.AccessKey != string(secret.Data[SecretKeyAccessKey]) {
		t.Errorf("connection string endpoint %s (want %s) or key differs from accessKey", cs.Endpoint, want)
	}
	if got, want := server.Spec.Template.Annotations[ConnectionHashAnnotation], ConnectionHash(secret.Data); got != want {
		t.Errorf("chat server hash annotation %q, want %q", got, want)
	}
	wantArgs := []string{"chatserver", "--listen", ":8080", "--metrics-listen", ":9090", "--log-format", "json",
		"--hub", "lobby", "--connection-string-file",
		"/etc/chathub/connection/connectionString", "--token-ttl", "1h0m0s",
		"--user-message-rate", "2", "--user-message-burst", "10", "--internal-listen", ":8081", "--proxy-client"}
	if got := server.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, wantArgs) {
		t.Errorf("chat server args %q, want %q", got, wantArgs)
	}
	if got := server.Spec.Template.Spec.Containers[0].Image; got != "example.com/chathub:test" {
		t.Errorf("chat server image %q, want the operator's default", got)
	}
	if got := local.Spec.Template.Spec.Containers[0].Args; !slices.Contains(got, "--access-key-file") || got[0] != "pubsub" ||
		!slices.Contains(got, "--log-format") || got[slices.Index(got, "--log-format")+1] != "json" {
		t.Errorf("PubSub service args %q", got)
	}
	if ing.Spec.Rules[0].Host != "chat.example.com" || ing.Spec.TLS[0].SecretName != "chat-tls" || ing.Annotations["a"] != "b" {
		t.Errorf("Ingress spec %+v", ing.Spec)
	}

	st := hub.Status
	if st.Hub != "lobby" || st.Source != chatv1.SourceEmbedded || st.ConnectionSecretName != "lobby-connection" ||
		st.Endpoint != cs.Endpoint.String() || st.EventHandlerURL != "http://lobby."+ns+".svc:8081/eventhandler" ||
		st.URL != "https://chat.example.com/" || st.Replicas != 1 {
		t.Errorf("status %+v", st)
	}
	raw, _ := json.Marshal(hub.Status)
	if strings.Contains(string(raw), cs.AccessKey) {
		t.Errorf("status contains the access key")
	}
	// No pods run in envtest, so the server is never available and Ready is False.
	waitCondition(t, "lobby", ns, chatv1.ConditionServerAvailable, metav1.ConditionFalse, chatv1.ReasonDeploymentProgressing)
	waitCondition(t, "lobby", ns, chatv1.ConditionReady, metav1.ConditionFalse, chatv1.ReasonDeploymentProgressing)

	// A second look changes nothing: the desired objects are applied without drift.
	rv := server.ResourceVersion
	if _, err := suite.rec.Reconcile(suite.ctx, reconcileRequest(hub)); err != nil {
		t.Fatalf("reconciling again: %v", err)
	}
	if err := getObj(ns, "lobby", &server); err != nil {
		t.Fatal(err)
	}
	if server.ResourceVersion != rv {
		t.Errorf("reconciling an unchanged ChatHub rewrote the Deployment (resourceVersion %s → %s)", rv, server.ResourceVersion)
	}
	// Removing the Ingress from the spec deletes it.
	eventually(t, 10*time.Second, "removing spec.ingress", func() error {
		h, err := getHub("lobby", ns)
		if err != nil {
			return err
		}
		h.Spec.Ingress = nil
		return suite.client.Update(suite.ctx, h)
	})
	eventually(t, 10*time.Second, "the Ingress to be deleted", func() error {
		if err := getObj(ns, "lobby", &networkingv1.Ingress{}); err == nil {
			return fmt.Errorf("the Ingress still exists")
		}
		return nil
	})
}

func TestSecretRotationRollsThePods(t *testing.T) {
	ns := newNamespace(t)
	key1 := strings.Repeat("a", 40)
	// A service of this test's own: hub "rotating" on it is not held by a ChatHub that an
	// earlier run (go test -count) left in the shared API server.
	endpoint := "https://" + ns + ".webpubsub.azure.com"
	src := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "awps", Namespace: ns},
		Data:       map[string][]byte{"connectionString": []byte("Endpoint=" + endpoint + ";AccessKey=" + key1 + ";Version=1.0;")},
	}
	mustCreate(t, src)
	hub := embeddedHub("rotating", ns)
	hub.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps"}}
	mustCreate(t, hub)

	hub = waitCondition(t, "rotating", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonManualRegistrationRequired)
	if want := "http://rotating." + ns + ".svc/eventhandler"; hub.Status.EventHandlerURL != want {
		t.Errorf("status.eventHandlerURL %q, want %q to register by hand", hub.Status.EventHandlerURL, want)
	}
	if hub.Status.Endpoint != endpoint {
		t.Errorf("status.endpoint %q", hub.Status.Endpoint)
	}
	ev := waitEvent(t, "rotating", ns, chatv1.ReasonManualRegistrationRequired, corev1.EventTypeWarning)
	if !strings.Contains(ev.Note, hub.Status.EventHandlerURL) || strings.Contains(ev.Note, key1) {
		t.Errorf("event note %q should name the URL and never the key", ev.Note)
	}
	hash := func() (string, error) {
		var d appsv1.Deployment
		if err := getObj(ns, "rotating", &d); err != nil {
			return "", err
		}
		return d.Spec.Template.Annotations[ConnectionHashAnnotation], nil
	}
	var h1 string
	eventually(t, 60*time.Second, "the chat server Deployment", func() (err error) { h1, err = hash(); return err })

	key2 := strings.Repeat("b", 40)
	src.Data["connectionString"] = []byte("Endpoint=" + endpoint + ";AccessKey=" + key2 + ";Version=1.0;")
	if err := suite.client.Update(suite.ctx, src); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the pod-template hash to change", func() error {
		h2, err := hash()
		if err != nil {
			return err
		}
		if h2 == h1 {
			return fmt.Errorf("hash still %s", h2)
		}
		var s corev1.Secret
		if err := getObj(ns, "rotating-connection", &s); err != nil {
			return err
		}
		if !strings.Contains(string(s.Data[SecretKeyConnectionString]), key2) {
			return fmt.Errorf("the connection Secret does not hold the new key yet")
		}
		if h2 != ConnectionHash(s.Data) {
			return fmt.Errorf("hash %s does not match the connection Secret", h2)
		}
		return nil
	})
	// A plain connection string registers nothing, so needs no finalizer.
	hub, _ = getHub("rotating", ns)
	if slices.Contains(hub.Finalizers, Finalizer) {
		t.Errorf("a connection string hub got the finalizer")
	}
	waitCondition(t, "rotating", ns, chatv1.ConditionConnectionSecretReady, metav1.ConditionTrue, chatv1.ReasonSecretReady)
}

func TestBadSourceSecret(t *testing.T) {
	const secretText = "s3cr3t-value-that-must-not-leak-0123456789"
	tests := map[string]struct {
		data       map[string][]byte // nil: no Secret at all
		wantReason string
		wantText   string
	}{
		"a missing Secret is reported": {
			wantReason: chatv1.ReasonSourceSecretNotFound,
			wantText:   `Secret "awps" named in spec.webPubSub.connectionStringSecretRef does not exist`,
		},
		"a Secret without the key is reported": {
			data:       map[string][]byte{"other": []byte(secretText)},
			wantReason: chatv1.ReasonSourceSecretKeyMissing,
			wantText:   `Secret "awps" has no key "connectionString"`,
		},
		"a malformed connection string is reported without the key": {
			data:       map[string][]byte{"connectionString": []byte("Endpoint=https://x.webpubsub.azure.com;" + secretText)},
			wantReason: chatv1.ReasonInvalidConnectionString,
			wantText:   `does not hold a valid Web PubSub connection string`,
		},
		"a connection string without an access key is reported": {
			data:       map[string][]byte{"connectionString": []byte("Endpoint=https://x.webpubsub.azure.com;Key=" + secretText)},
			wantReason: chatv1.ReasonInvalidConnectionString,
			wantText:   `AccessKey is missing`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := newNamespace(t)
			if tc.data != nil {
				mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "awps", Namespace: ns}, Data: tc.data})
			}
			hub := embeddedHub("broken", ns)
			hub.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps"}}
			mustCreate(t, hub)
			got := waitCondition(t, "broken", ns, chatv1.ConditionConnectionSecretReady, metav1.ConditionFalse, tc.wantReason)
			cond := findCondition(got, chatv1.ConditionConnectionSecretReady)
			if !strings.Contains(cond.Message, tc.wantText) {
				t.Errorf("message %q does not contain %q", cond.Message, tc.wantText)
			}
			raw, _ := json.Marshal(got.Status)
			if strings.Contains(string(raw), secretText) {
				t.Errorf("status leaks the Secret's content: %s", raw)
			}
			waitCondition(t, "broken", ns, chatv1.ConditionReady, metav1.ConditionFalse, tc.wantReason)
			ev := waitEvent(t, "broken", ns, tc.wantReason, corev1.EventTypeWarning)
			if strings.Contains(ev.Note, secretText) {
				t.Errorf("event leaks the Secret's content: %s", ev.Note)
			}

			// Fixing the Secret propagates through the watch.
			good := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "awps", Namespace: ns},
				Data: map[string][]byte{"connectionString": []byte("Endpoint=https://x.webpubsub.azure.com;AccessKey=" + secretText + ";")}}
			if tc.data == nil {
				mustCreate(t, good)
			} else if err := suite.client.Update(suite.ctx, good); err != nil {
				t.Fatal(err)
			}
			waitCondition(t, "broken", ns, chatv1.ConditionConnectionSecretReady, metav1.ConditionTrue, chatv1.ReasonSecretReady)
		})
	}
}

func findCondition(hub *chatv1.ChatHub, typ string) metav1.Condition {
	for _, c := range hub.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}
