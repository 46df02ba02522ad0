// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1 "github.com/chathub/chathub/api/v1"
	"github.com/chathub/chathub/webpubsub"
)

// HubSettingsClient is the part of *webpubsub.HubsClient the operator uses:
// the ARM-shaped hub-settings API of Azure or of the PubSub service.
type HubSettingsClient interface {
	// Get returns a hub's settings; webpubsub.IsNotFound(err) when it has none.
	Get(ctx context.Context, hub string) (*webpubsub.HubSettings, error)
	// BeginCreateOrUpdate replaces a hub's settings: the stored settings
	// when the service is done at once, else the long-running operation to
	// poll.
	BeginCreateOrUpdate(ctx context.Context, hub string, s *webpubsub.HubSettings) (*webpubsub.HubSettings, *webpubsub.Operation, error)
	// BeginDelete removes a hub's settings: nil when done (or there were
	// none), else the long-running operation to poll.
	BeginDelete(ctx context.Context, hub string) (*webpubsub.Operation, error)
	// PollOperation asks once whether a long-running operation has ended.
	PollOperation(ctx context.Context, op webpubsub.Operation) (done bool, next time.Duration, err error)
	// ListKeys returns the keys of the Web PubSub resource.
	ListKeys(ctx context.Context) (*webpubsub.Keys, error)
}

// RegistrationTarget says which hub-settings API to call and how to sign in.
type RegistrationTarget struct {
	// BaseURL is the ARM endpoint (Azure) or the PubSub service's endpoint.
	BaseURL string
	// Resource is the Web PubSub resource whose hubs are managed.
	Resource webpubsub.ResourceID
	// Tokens signs the requests: Entra for Azure, the access key for the
	// PubSub service.
	Tokens webpubsub.TokenSource
}

// Registrar opens hub-settings clients. Tests inject one pointed at a local
// service; production uses HubsRegistrar.
type Registrar interface {
	// HubsClient returns a client for target.
	HubsClient(target RegistrationTarget) (HubSettingsClient, error)
}

// HubsRegistrar is the production Registrar, built on webpubsub.NewHubsClient.
type HubsRegistrar struct {
	// HTTPClient carries the requests; nil uses the webpubsub default.
	HTTPClient *http.Client
	// PollInterval overrides the long-running-operation poll interval.
	PollInterval time.Duration
}

// HubsClient implements Registrar.
func (h HubsRegistrar) HubsClient(t RegistrationTarget) (HubSettingsClient, error) {
	c, err := webpubsub.NewHubsClient(t.BaseURL, t.Resource, t.Tokens, &webpubsub.HubsClientOptions{
		HTTPClient: h.HTTPClient, PollInterval: h.PollInterval,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// HandshakeFunc checks that the event handler at handlerURL answers the
// abuse-protection handshake for a service whose host is origin.
type HandshakeFunc func(ctx context.Context, handlerURL, origin string) error

// HTTPHandshake is the production HandshakeFunc: an OPTIONS request with
// WebHook-Request-Origin, as the service sends before it uses a handler.
func HTTPHandshake(client *http.Client) HandshakeFunc {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return func(ctx context.Context, handlerURL, origin string) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodOptions, handlerURL, nil)
		if err != nil {
			return fmt.Errorf("building the handshake request: %w", err)
		}
		req.Header.Set(webpubsub.HeaderRequestOrigin, origin)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("chat server unreachable: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("chat server answered HTTP %d", resp.StatusCode)
		}
		allowed := resp.Header.Get(webpubsub.HeaderAllowedOrigin)
		if allowed != "*" && !strings.EqualFold(allowed, origin) {
			return fmt.Errorf("chat server did not allow origin %q (WebHook-Allowed-Origin %q)", origin, allowed)
		}
		return nil
	}
}

// registration is the outcome of the registration step.
type registration struct {
	status  metav1.ConditionStatus
	reason  string
	message string
	// url is the handler URL the step registered, or the one to register
	// by hand; it reaches status.eventHandlerURL only when report is set.
	url    string
	report bool
	// registered, when setRegistered, is the new
	// status.registeredEventHandlers: the service accepted them.
	registered    []string
	setRegistered bool
	// pending is the long-running operation to keep in status.
	pending *chatv1.PendingOperation
	// updated is true when the step changed the service's settings.
	updated bool
	// retry is true when the step failed and must be retried with backoff.
	retry bool
	// wait, when set, replaces the backoff: an operation's poll interval, a
	// 429's Retry-After.
	wait time.Duration
}

// ensureRegistration registers hub's event handler, idempotently: the
// settings are read first and written only when they differ. A
// long-running write is not waited for: its operation is kept in status and
// polled at the next reconcile.
func (r *ChatHubReconciler) ensureRegistration(ctx context.Context, hub *chatv1.ChatHub, src connectionSource, conn *connection, hubs HubSettingsClient) registration {
	hubName := EffectiveHub(hub)
	want := DesiredEventHandler(hub)
	url := want.URLTemplate
	if hub.Spec.EventHandler.Registration == chatv1.RegistrationManual {
		return registration{status: metav1.ConditionUnknown, reason: chatv1.ReasonManual, url: url, report: true,
			pending: hub.Status.PendingOperation,
			message: "spec.eventHandler.registration is Manual: the operator does not register or check the event handler; " +
				manualHandler(want, hubName, src.Service())}
	}
	if !src.Registers() {
		return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonManualRegistrationRequired, url: url, report: true,
			message: src.ManualRegistration(want, hubName, conn)}
	}
	if conn == nil || hubs == nil {
		return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonWaitingForSecret, url: url,
			pending: hub.Status.PendingOperation,
			message: "Waiting for the connection (see condition ConnectionSecretReady)"}
	}
	finished := false // a registration operation of an earlier reconcile ended well
	if op := hub.Status.PendingOperation; op != nil {
		if reg, waiting := r.pollPending(ctx, hub, hubs, op, url); waiting {
			return reg
		}
		finished = op.Action == actionRegister
	}
	checkURL := EventHandlerCheckURL(hub)
	if err := r.CheckHandshake(ctx, checkURL, conn.cs.Endpoint.Hostname()); err != nil {
		return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonHandshakeFailed, retry: true, url: url,
			message: fmt.Sprintf("The chat server at %s did not pass the abuse-protection handshake, so the service would refuse it: %s", checkURL, handshakeError(err))}
	}
	current, err := hubs.Get(ctx, hubName)
	if err != nil && !webpubsub.IsNotFound(err) {
		return r.registrationFailed(hub, url, "reading", hubName, err)
	}
	desired := withHandler(current, want, previousHandlers(hub))
	registered := fmt.Sprintf("Event handler %s registered for hub %s", url, hubName)
	done := registration{status: metav1.ConditionTrue, reason: chatv1.ReasonRegistered, message: registered, url: url, report: true,
		registered: []string{url}, setRegistered: true}
	if current != nil && equality.Semantic.DeepEqual(current.Properties.EventHandlers, desired.Properties.EventHandlers) {
		done.updated = finished
		return done
	}
	_, op, err := hubs.BeginCreateOrUpdate(ctx, hubName, desired)
	if err != nil {
		return r.registrationFailed(hub, url, "writing", hubName, err)
	}
	if op != nil {
		p := &chatv1.PendingOperation{Action: actionRegister, Hub: hubName, Kind: string(op.Kind), URL: op.URL,
			EventHandlers: []string{url}, StartTime: metav1.NewTime(r.now())}
		return inProgress(p, url, r.pollWait(p, op.RetryAfter))
	}
	done.updated = true
	return done
}

// The actions of a PendingOperation.
const (
	actionRegister   = "Register"
	actionUnregister = "Unregister"
)

// inProgress is the outcome while operation p runs.
func inProgress(p *chatv1.PendingOperation, url string, next time.Duration) registration {
	return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonRegistrationInProgress, url: url, pending: p,
		wait: next, message: fmt.Sprintf("The service is applying the settings of hub %s (operation started %s); the operator polls it",
			p.Hub, p.StartTime.UTC().Format(time.RFC3339))}
}

// pollWait is the wait before the next poll of p: what the service asked
// for, but at least RetryMin and growing with the operation's age up to
// RetryMax, so that an operation that never ends costs less and less.
func (r *ChatHubReconciler) pollWait(p *chatv1.PendingOperation, asked time.Duration) time.Duration {
	return max(asked, min(max(r.now().Sub(p.StartTime.Time), r.RetryMin), r.RetryMax), time.Millisecond)
}

// pollPending polls the operation a previous reconcile started. waiting is
// true when reg is the outcome (the operation runs or failed); false when it
// ended well and the registration goes on (and checks the result).
func (r *ChatHubReconciler) pollPending(ctx context.Context, hub *chatv1.ChatHub, hubs HubSettingsClient, p *chatv1.PendingOperation, url string) (reg registration, waiting bool) {
	done, next, err := hubs.PollOperation(ctx, webpubsub.Operation{Kind: webpubsub.OperationKind(p.Kind), URL: p.URL})
	switch {
	case !done && err == nil:
		return inProgress(p, url, r.pollWait(p, next)), true
	case !done:
		reg := r.registrationFailed(hub, url, "polling the operation on", p.Hub, err)
		if code := webpubsub.StatusCodeOf(err); code >= 400 && code < 500 && code != http.StatusTooManyRequests {
			reg.pending = nil // the operation is gone: start over
		} else {
			reg.pending = p
		}
		return reg, true
	case err != nil:
		reg := r.registrationFailed(hub, url, "applying", p.Hub, err)
		reg.pending = nil
		return reg, true
	}
	return registration{}, false
}

// previousHandlers are the URLs this ChatHub registered before, which a new
// URL replaces.
func previousHandlers(hub *chatv1.ChatHub) []string {
	urls := slices.Clone(hub.Status.RegisteredEventHandlers)
	if hub.Status.EventHandlerURL != "" {
		urls = append(urls, hub.Status.EventHandlerURL)
	}
	if p := hub.Status.PendingOperation; p != nil {
		urls = append(urls, p.EventHandlers...)
	}
	return urls
}

// manualHandler says what to register by hand.
func manualHandler(h webpubsub.EventHandlerSettings, hub, service string) string {
	return fmt.Sprintf("register URL template %s (user events %q, system events %s) for hub %s on %s",
		h.URLTemplate, h.UserEventPattern, strings.Join(h.SystemEvents, ","), hub, service)
}

// registrationFailed is the outcome of a failed hub-settings call; the
// message is the same for the same failure (see stableError), so that
// retries do not write status.
func (r *ChatHubReconciler) registrationFailed(hub *chatv1.ChatHub, url, verb, hubName string, err error) registration {
	r.noteARMError(sourceCacheKey(hub), err)
	return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonRegistrationFailed, retry: true, url: url,
		pending: hub.Status.PendingOperation, wait: webpubsub.RetryAfterOf(err),
		message: fmt.Sprintf("%s the settings of hub %s: the service %s", verb, hubName, stableError(err))}
}

// handshakeError is the handshake's error without what varies between
// attempts.
func handshakeError(err error) string {
	var re *webpubsub.ResponseError
	if errors.As(err, &re) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, new(*net.OpError)) {
		return "the chat server " + stableError(err)
	}
	return scrub(err.Error())
}

// noteARMError drops the cached listKeys result of a resource whose ARM
// call was refused with 401 or 403.
func (r *ChatHubReconciler) noteARMError(cacheKey string, err error) {
	if code := webpubsub.StatusCodeOf(err); cacheKey != "" && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
		r.keys.invalidate(cacheKey)
	}
}

// sourceCacheKey is the listKeys cache key of hub's source; "" when it has
// none.
func sourceCacheKey(hub *chatv1.ChatHub) string {
	if a, ok := sourceFor(hub).(azureSource); ok {
		return a.cacheKey()
	}
	return ""
}

// withHandler returns the settings to write: current's settings with the
// operator's handler first, replacing any handler with the same URL or the
// URLs it registered before; handlers others added are kept after it.
func withHandler(current *webpubsub.HubSettings, want webpubsub.EventHandlerSettings, previousURLs []string) *webpubsub.HubSettings {
	out := &webpubsub.HubSettings{}
	if current != nil {
		out.Properties = current.Properties
	}
	handlers := []webpubsub.EventHandlerSettings{want}
	for _, h := range out.Properties.EventHandlers {
		if h.URLTemplate == want.URLTemplate || slices.Contains(previousURLs, h.URLTemplate) {
			continue
		}
		handlers = append(handlers, h)
	}
	out.Properties.EventHandlers = handlers
	return out
}

// withoutHandlers returns current without the handlers whose URL is in urls,
// and whether anything is left worth keeping.
func withoutHandlers(current *webpubsub.HubSettings, urls []string) (*webpubsub.HubSettings, bool) {
	out := &webpubsub.HubSettings{Properties: current.Properties}
	out.Properties.EventHandlers = nil
	for _, h := range current.Properties.EventHandlers {
		if !slices.Contains(urls, h.URLTemplate) {
			out.Properties.EventHandlers = append(out.Properties.EventHandlers, h)
		}
	}
	keep := len(out.Properties.EventHandlers) > 0 || len(out.Properties.EventListeners) > 0
	return out, keep
}

// unregister removes every event handler this ChatHub registered from the
// service, and the hub's settings altogether when nothing else is left in
// them. A long-running operation is not waited for: it is returned with the
// wait before its next poll, to be kept in status and polled at the next
// attempt.
func (r *ChatHubReconciler) unregister(ctx context.Context, hub *chatv1.ChatHub, src connectionSource, conn *connection) (*chatv1.PendingOperation, time.Duration, error) {
	hubs, err := src.HubSettings(r, conn)
	if err != nil {
		return nil, 0, err
	}
	if hubs == nil {
		return nil, 0, fmt.Errorf("no way to reach the service's hub settings")
	}
	hubName := hub.Status.Hub
	if hubName == "" {
		hubName = EffectiveHub(hub)
	}
	// A removal started before is waited for; a registration still running
	// is not: the removal below supersedes it.
	if p := hub.Status.PendingOperation; p != nil && p.Action == actionUnregister {
		done, next, err := hubs.PollOperation(ctx, webpubsub.Operation{Kind: webpubsub.OperationKind(p.Kind), URL: p.URL})
		switch {
		case !done && err == nil:
			return p, next, nil
		case done && err == nil:
			return nil, 0, nil
		case done:
			return nil, 0, fmt.Errorf("the removal from hub %s: the service %s", p.Hub, stableError(err))
		}
		// Polling failed: read the settings again below.
	}
	current, err := hubs.Get(ctx, hubName)
	if webpubsub.IsNotFound(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading the settings of hub %s: the service %s", hubName, stableError(err))
	}
	urls := append([]string{EventHandlerURL(hub)}, previousHandlers(hub)...)
	rest, keep := withoutHandlers(current, urls)
	if len(rest.Properties.EventHandlers) == len(current.Properties.EventHandlers) {
		return nil, 0, nil // nothing of ours is there
	}
	var op *webpubsub.Operation
	if keep {
		if _, op, err = hubs.BeginCreateOrUpdate(ctx, hubName, rest); err != nil {
			return nil, 0, fmt.Errorf("writing the settings of hub %s: the service %s", hubName, stableError(err))
		}
	} else if op, err = hubs.BeginDelete(ctx, hubName); err != nil {
		return nil, 0, fmt.Errorf("deleting the settings of hub %s: the service %s", hubName, stableError(err))
	}
	if op == nil {
		return nil, 0, nil
	}
	return &chatv1.PendingOperation{Action: actionUnregister, Hub: hubName, Kind: string(op.Kind), URL: op.URL,
		StartTime: metav1.NewTime(r.now())}, op.RetryAfter, nil
}
