// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// azureHubOn is a ChatHub on the resource of a.
func azureHubOn(name, ns string, a *fakeARM) *chatv1.ChatHub {
	h := embeddedHub(name, ns)
	h.Spec.Hub = strings.ReplaceAll(name+"_"+ns, "-", "_")
	h.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: a.ResourceID(), ManagementEndpoint: a.srv.URL}}
	return h
}

// condition returns the ChatHub's condition typ; nil when it has none.
func condition(h *chatv1.ChatHub, typ string) *metav1.Condition {
	return meta.FindStatusCondition(h.Status.Conditions, typ)
}

// setHandlerURL changes spec.eventHandler.url.
func setHandlerURL(t *testing.T, name, ns, url string) {
	t.Helper()
	h, err := getHub(name, ns)
	if err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(h.DeepCopy())
	h.Spec.EventHandler.URL = url
	if err := suite.client.Patch(suite.ctx, h, patch); err != nil {
		t.Fatal(err)
	}
}

// TestChangingARMErrorsKeepTheBackoff: ARM errors whose text changes at
// every request give the same condition message at every attempt, so status
// is not rewritten and the backoff holds: few ARM calls over a quiet period.
func TestChangingARMErrorsKeepTheBackoff(t *testing.T) {
	ns := newNamespace(t)
	arm := newFakeARM(t, armHealthy)
	mustCreate(t, azureHubOn("flaky", ns, arm))
	waitCondition(t, "flaky", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)

	arm.setMode(armFlaky)
	setHandlerURL(t, "flaky", ns, "http://flaky."+ns+".svc/eventhandler/v2")
	h := waitCondition(t, "flaky", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationFailed)
	first := condition(h, chatv1.ConditionEventHandlerRegistered).Message
	if strings.Contains(first, "RequestId") && !strings.Contains(first, "<id>") || strings.Contains(first, "127.0.0.1:4") {
		t.Errorf("message %q carries what changes between attempts", first)
	}
	// Two more failed attempts, each with another text at the service.
	calls := arm.calls.Load()
	eventually(t, 60*time.Second, "two more attempts", func() error {
		if n := arm.calls.Load(); n < calls+2 {
			return fmt.Errorf("%d calls", n-calls)
		}
		return nil
	})
	h, _ = getHub("flaky", ns)
	if got := condition(h, chatv1.ConditionEventHandlerRegistered).Message; got != first {
		t.Errorf("the message changed between identical failures:\n%s\n%s", first, got)
	}
	// A quiet period: the calls are bounded by the backoff (200ms doubling
	// to 2s in this suite), not by how fast status writes come back.
	start := arm.calls.Load()
	time.Sleep(10 * time.Second)
	n := arm.calls.Load() - start
	t.Logf("%d ARM calls in 10s", n)
	if n > 10 {
		t.Errorf("%d ARM calls in 10s from one failing ChatHub, want at most 10", n)
	}
	if h.Status.EventHandlerURL != "http://flaky."+ns+".svc/eventhandler" {
		t.Errorf("status.eventHandlerURL %q changed before any success", h.Status.EventHandlerURL)
	}
}

// TestURLChangeReplacesTheRegisteredURLOnlyAfterSuccess: a URL changed
// while ARM is down leaves status on the old URL; once ARM answers, the new
// one replaces the old one at the service; deletion removes every URL the
// ChatHub registered, a registration still in progress included.
func TestURLChangeReplacesTheRegisteredURLOnlyAfterSuccess(t *testing.T) {
	ns := newNamespace(t)
	arm := newFakeARM(t, armHealthy)
	hub := azureHubOn("moving", ns, arm)
	mustCreate(t, hub)
	url1 := "http://moving." + ns + ".svc/eventhandler"
	url2 := url1 + "/v2"
	url3 := url1 + "/v3"
	h := waitCondition(t, "moving", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	if h.Status.EventHandlerURL != url1 || !slices.Equal(h.Status.RegisteredEventHandlers, []string{url1}) {
		t.Fatalf("status %q %v, want %s registered", h.Status.EventHandlerURL, h.Status.RegisteredEventHandlers, url1)
	}

	arm.setMode(armDown)
	setHandlerURL(t, "moving", ns, url2)
	h = waitCondition(t, "moving", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationFailed)
	if h.Status.EventHandlerURL != url1 || !slices.Equal(h.Status.RegisteredEventHandlers, []string{url1}) {
		t.Errorf("while ARM is down: status %q %v, want still %s", h.Status.EventHandlerURL, h.Status.RegisteredEventHandlers, url1)
	}

	arm.setMode(armHealthy)
	h = waitCondition(t, "moving", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	if h.Status.EventHandlerURL != url2 || !slices.Equal(h.Status.RegisteredEventHandlers, []string{url2}) {
		t.Errorf("after success: status %q %v, want %s", h.Status.EventHandlerURL, h.Status.RegisteredEventHandlers, url2)
	}
	store := func() *settings.Store { return arm.store }
	waitHandlers(t, store, hub.Spec.Hub, []webpubsub.EventHandlerSettings{
		{URLTemplate: url2, UserEventPattern: "*", SystemEvents: []string{"connected", "disconnected"}},
	})

	// A third URL whose operation never finishes: the service holds it,
	// status keeps url2 and the pending operation.
	arm.setMode(armNeverFinish)
	setHandlerURL(t, "moving", ns, url3)
	h = waitCondition(t, "moving", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationInProgress)
	if p := h.Status.PendingOperation; p == nil || !slices.Equal(p.EventHandlers, []string{url3}) || h.Status.EventHandlerURL != url2 {
		t.Errorf("in progress: pending %+v, eventHandlerURL %q", h.Status.PendingOperation, h.Status.EventHandlerURL)
	}
	waitHandlers(t, store, hub.Spec.Hub, []webpubsub.EventHandlerSettings{
		{URLTemplate: url3, UserEventPattern: "*", SystemEvents: []string{"connected", "disconnected"}},
	})

	if err := suite.client.Delete(suite.ctx, h); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "moving", ns)
	if got, ok := arm.store.Get(hub.Spec.Hub); ok {
		t.Errorf("after deletion the hub still has settings %+v", got.Properties.EventHandlers)
	}
}

// TestBrokenAzureHubsDoNotDelayHealthyOnes: two resources that never answer
// and two whose operations never finish, among healthy ones: the healthy
// hubs are registered while the broken ones are still pending, and the
// never-finishing operations are polled across reconciles, not inline.
func TestBrokenAzureHubsDoNotDelayHealthyOnes(t *testing.T) {
	ns := newNamespace(t)
	healthy := newFakeARM(t, armHealthy)
	var hung, slow []*fakeARM
	for i := range 2 {
		hung = append(hung, newFakeARM(t, armHang))
		slow = append(slow, newFakeARM(t, armNeverFinish))
		mustCreate(t, azureHubOn(fmt.Sprintf("hung-%d", i), ns, hung[i]))
		mustCreate(t, azureHubOn(fmt.Sprintf("slow-%d", i), ns, slow[i]))
	}
	const healthyHubs = 8
	for i := range healthyHubs {
		mustCreate(t, azureHubOn(fmt.Sprintf("ok-%d", i), ns, healthy))
	}
	for i := range healthyHubs {
		waitCondition(t, fmt.Sprintf("ok-%d", i), ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	}
	// The broken hubs are still pending now that every healthy one is registered.
	for i := range 2 {
		for _, name := range []string{fmt.Sprintf("hung-%d", i), fmt.Sprintf("slow-%d", i)} {
			h, err := getHub(name, ns)
			if err != nil {
				t.Fatal(err)
			}
			if c := condition(h, chatv1.ConditionEventHandlerRegistered); c != nil && c.Status == metav1.ConditionTrue {
				t.Errorf("%s is registered although its service never finishes", name)
			}
		}
	}
	for i := range 2 {
		name := fmt.Sprintf("slow-%d", i)
		h := waitCondition(t, name, ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationInProgress)
		if p := h.Status.PendingOperation; p == nil || p.Action != "Register" || !strings.Contains(p.URL, "/operationStatuses/") {
			t.Errorf("%s: pending operation %+v", name, h.Status.PendingOperation)
		}
		// Polled again at later reconciles.
		eventually(t, 60*time.Second, name+" polled again", func() error {
			if n := slow[i].opPolls.Load(); n < 2 {
				return fmt.Errorf("%d polls", n)
			}
			return nil
		})
	}
	for i := range 2 {
		name := fmt.Sprintf("hung-%d", i)
		h := waitCondition(t, name, ns, chatv1.ConditionConnectionSecretReady, metav1.ConditionFalse, chatv1.ReasonListKeysFailed)
		if msg := condition(h, chatv1.ConditionConnectionSecretReady).Message; !strings.Contains(msg, "did not answer") {
			t.Errorf("%s: message %q does not say the management endpoint did not answer", name, msg)
		}
	}
	for _, a := range hung {
		a.unhang()
		a.setMode(armDown)
	}
	var list chatv1.ChatHubList
	if err := suite.client.List(suite.ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		_ = suite.client.Delete(suite.ctx, &list.Items[i])
	}
	for _, h := range list.Items {
		waitGone(t, h.Name, ns)
	}
}

// TestListKeysIsCached: ARM listKeys is called once across reconciles.
func TestListKeysIsCached(t *testing.T) {
	ns := newNamespace(t)
	arm := newFakeARM(t, armHealthy)
	mustCreate(t, azureHubOn("cached", ns, arm))
	waitCondition(t, "cached", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	for i := range 3 {
		before := arm.calls.Load()
		h, err := getHub("cached", ns)
		if err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(h.DeepCopy())
		metav1.SetMetaDataAnnotation(&h.ObjectMeta, "test/poke", fmt.Sprint(i))
		if err := suite.client.Patch(suite.ctx, h, patch); err != nil {
			t.Fatal(err)
		}
		// Each reconcile reads the hub settings.
		eventually(t, 60*time.Second, "another reconcile", func() error {
			if arm.calls.Load() <= before {
				return errors.New("no ARM call yet")
			}
			return nil
		})
	}
	if n := arm.listKeys.Load(); n != 1 {
		t.Errorf("listKeys called %d times across reconciles, want 1", n)
	}
}

// TestReadyMeansChatWorks: a connection-string source with registration
// Automatic is not Ready and says what to register; with registration
// Manual, EventHandlerRegistered is Unknown and Ready is True.
func TestReadyMeansChatWorks(t *testing.T) {
	ns := newNamespace(t)
	endpoint := "https://" + ns + ".example.com" // this test's own service (see TestSecretRotationRollsThePods)
	cs := "Endpoint=" + endpoint + ";AccessKey=" + randomHex(32) + ";Version=1.0;"
	mustCreate(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "awps", Namespace: ns}, Data: map[string][]byte{"connectionString": []byte(cs)}})
	hub := embeddedHub("lobby", ns)
	hub.Spec.WebPubSub = chatv1.WebPubSubSource{ConnectionStringSecretRef: &chatv1.SecretKeySelector{Name: "awps"}}
	mustCreate(t, hub)
	markAvailable(t, ns, "lobby")
	url := "http://lobby." + ns + ".svc/eventhandler"

	h := waitCondition(t, "lobby", ns, chatv1.ConditionServerAvailable, metav1.ConditionTrue, chatv1.ReasonDeploymentAvailable)
	reg := condition(h, chatv1.ConditionEventHandlerRegistered)
	if reg.Status != metav1.ConditionFalse || reg.Reason != chatv1.ReasonManualRegistrationRequired {
		t.Fatalf("EventHandlerRegistered %s/%s, want False/ManualRegistrationRequired", reg.Status, reg.Reason)
	}
	for _, want := range []string{url, "connected,disconnected", "hub lobby", endpoint, "registration to Manual"} {
		if !strings.Contains(reg.Message, want) {
			t.Errorf("message %q does not say %q", reg.Message, want)
		}
	}
	ready := condition(h, chatv1.ConditionReady)
	if ready.Status != metav1.ConditionFalse || !strings.Contains(ready.Message, url) {
		t.Errorf("Ready %s: %s; want False naming %s", ready.Status, ready.Message, url)
	}

	patch := client.MergeFrom(h.DeepCopy())
	h.Spec.EventHandler.Registration = chatv1.RegistrationManual
	if err := suite.client.Patch(suite.ctx, h, patch); err != nil {
		t.Fatal(err)
	}
	h = waitCondition(t, "lobby", ns, chatv1.ConditionReady, metav1.ConditionTrue, chatv1.ReasonReady)
	reg = condition(h, chatv1.ConditionEventHandlerRegistered)
	if reg.Status != metav1.ConditionUnknown || reg.Reason != chatv1.ReasonManual || !strings.Contains(reg.Message, url) {
		t.Errorf("EventHandlerRegistered %s/%s %q, want Unknown/Manual naming the URL", reg.Status, reg.Reason, reg.Message)
	}
	if h.Status.EventHandlerURL != url {
		t.Errorf("status.eventHandlerURL %q, want %q", h.Status.EventHandlerURL, url)
	}
}

// TestNoCredentialIsCredentialUnavailable: without an Entra credential an
// Azure source reports CredentialUnavailable, not a chained error.
func TestNoCredentialIsCredentialUnavailable(t *testing.T) {
	hub := embeddedHub("no-identity", "default")
	hub.Spec.WebPubSub = chatv1.WebPubSubSource{Azure: &chatv1.AzureSource{ResourceID: testResourceID}}
	r := &ChatHubReconciler{Registrar: HubsRegistrar{}}
	_, err := sourceFor(hub).Resolve(context.Background(), r)
	var p *problem
	if !errors.As(err, &p) || p.reason != chatv1.ReasonCredentialUnavailable {
		t.Fatalf("Resolve = %v, want reason CredentialUnavailable", err)
	}

	// A token source that finds no identity when asked says the same.
	arm := &ChatHubReconciler{Registrar: HubsRegistrar{}, EntraTokens: noIdentity{}}
	hub.Spec.WebPubSub.Azure.ManagementEndpoint = "http://127.0.0.1:1"
	_, err = sourceFor(hub).Resolve(context.Background(), arm)
	if !errors.As(err, &p) || p.reason != chatv1.ReasonCredentialUnavailable {
		t.Fatalf("Resolve = %v, want reason CredentialUnavailable", err)
	}
}

type noIdentity struct{}

func (noIdentity) Token(context.Context, *neturl.URL) (string, error) {
	return "", fmt.Errorf("entra: %w", webpubsub.ErrNoCredential)
}

// TestStableError: what varies between identical failures is gone.
func TestStableError(t *testing.T) {
	opErr := func(port int) error {
		return fmt.Errorf("hubs client: GET /x: %w", &net.OpError{Op: "read", Net: "tcp",
			Source: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: port}, Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 443},
			Err: errors.New("connection reset by peer")})
	}
	respErr := func(id string) error {
		return &webpubsub.ResponseError{StatusCode: 500, ErrorCode: "InternalServerError", Method: "GET", Path: "/x",
			Message: "failed. RequestId: " + id + " Timestamp: 2026-11-30T10:00:0" + id[:1] + "Z from 127.0.0.1:4" + id[:4]}
	}
	tests := map[string]struct {
		a, b error
		want string
	}{
		"ephemeral ports": {opErr(51234), opErr(40001), "did not answer (read tcp: connection reset by peer)"},
		"request IDs and times": {respErr("1234abcd-0000-0000-0000-000000000001"), respErr("5678abcd-0000-0000-0000-000000000002"),
			"answered HTTP 500 Internal Server Error (InternalServerError): failed. RequestId: <id> Timestamp: <time> from <address>"},
		"deadline": {fmt.Errorf("x: %w", context.DeadlineExceeded), context.DeadlineExceeded, "did not answer in time"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, b := stableError(tc.a), stableError(tc.b)
			if a != b || a != tc.want {
				t.Errorf("stableError = %q and %q, want %q", a, b, tc.want)
			}
		})
	}
}

// TestRetryAfterIsHonoured: a 429 is retried after its Retry-After, not
// after the (much shorter) backoff.
func TestRetryAfterIsHonoured(t *testing.T) {
	ns := newNamespace(t)
	arm := newFakeARM(t, armHealthy)
	mustCreate(t, azureHubOn("throttled", ns, arm))
	waitCondition(t, "throttled", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	arm.setMode(armThrottled)
	setHandlerURL(t, "throttled", ns, "http://throttled."+ns+".svc/eventhandler/v2")
	h := waitCondition(t, "throttled", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationFailed)
	if msg := condition(h, chatv1.ConditionEventHandlerRegistered).Message; !strings.Contains(msg, "429 Too Many Requests") {
		t.Errorf("message %q does not say the service throttled", msg)
	}
	// The backoff of this suite would retry about ten times in 3s; the
	// service asked for 60s. One more call is the reconcile the status
	// write itself triggers.
	start := arm.calls.Load()
	time.Sleep(3 * time.Second)
	if n := arm.calls.Load() - start; n > 1 {
		t.Errorf("%d ARM calls in 3s after a 429 with Retry-After: 60", n)
	}
}

func TestKeyCache(t *testing.T) {
	var c keyCache
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.put("r", "cs", t0)
	if got, ok := c.get("r", t0.Add(9*time.Minute), 10*time.Minute); !ok || got != "cs" {
		t.Errorf("get within the TTL = %q, %v", got, ok)
	}
	if _, ok := c.get("r", t0.Add(10*time.Minute), 10*time.Minute); ok {
		t.Error("an entry as old as the TTL is still served")
	}
	r := &ChatHubReconciler{}
	r.keys.put("r", "cs", t0)
	r.noteARMError("r", &webpubsub.ResponseError{StatusCode: 500})
	if _, ok := r.keys.get("r", t0, time.Hour); !ok {
		t.Error("a 500 dropped the cached keys")
	}
	r.noteARMError("r", fmt.Errorf("wrapped: %w", &webpubsub.ResponseError{StatusCode: 403}))
	if _, ok := r.keys.get("r", t0, time.Hour); ok {
		t.Error("a 403 left the cached keys in place")
	}
}

// TestLongOperationIsPolledAcrossReconciles: a PUT answered with an
// Azure-AsyncOperation is kept in status and polled at later reconciles;
// when it succeeds the handler is Registered and the operation is gone.
func TestLongOperationIsPolledAcrossReconciles(t *testing.T) {
	ns := newNamespace(t)
	arm := newFakeARM(t, armFinishLater)
	mustCreate(t, azureHubOn("later", ns, arm))
	h := waitCondition(t, "later", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionFalse, chatv1.ReasonRegistrationInProgress)
	if h.Status.PendingOperation == nil || len(h.Status.RegisteredEventHandlers) != 0 || h.Status.EventHandlerURL != "" {
		t.Errorf("in progress: pending %+v, registered %v, eventHandlerURL %q", h.Status.PendingOperation,
			h.Status.RegisteredEventHandlers, h.Status.EventHandlerURL)
	}
	h = waitCondition(t, "later", ns, chatv1.ConditionEventHandlerRegistered, metav1.ConditionTrue, chatv1.ReasonRegistered)
	url := "http://later." + ns + ".svc/eventhandler"
	if h.Status.PendingOperation != nil || !slices.Equal(h.Status.RegisteredEventHandlers, []string{url}) || h.Status.EventHandlerURL != url {
		t.Errorf("done: pending %+v, registered %v, eventHandlerURL %q", h.Status.PendingOperation,
			h.Status.RegisteredEventHandlers, h.Status.EventHandlerURL)
	}
	if n := arm.opPolls.Load(); n != 3 {
		t.Errorf("the operation was polled %d times, want 3 (Running, Running, Succeeded)", n)
	}
	waitEvent(t, "later", ns, chatv1.ReasonRegistered, corev1.EventTypeNormal)
}
