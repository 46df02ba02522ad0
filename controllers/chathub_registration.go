// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"context"
	"fmt"
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
	// CreateOrUpdate replaces a hub's settings.
	CreateOrUpdate(ctx context.Context, hub string, s *webpubsub.HubSettings) (*webpubsub.HubSettings, error)
	// Delete removes a hub's settings; nil when there are none.
	Delete(ctx context.Context, hub string) error
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
	// url is the handler URL registered, or to register by hand.
	url string
	// updated is true when the step changed the service's settings.
	updated bool
	// retry is true when the step failed and must be retried with backoff.
	retry bool
}

// ensureRegistration registers hub's event handler, idempotently: the
// settings are read first and written only when they differ.
func (r *ChatHubReconciler) ensureRegistration(ctx context.Context, hub *chatv1.ChatHub, src connectionSource, conn *connection, hubs HubSettingsClient) registration {
	hubName := EffectiveHub(hub)
	want := DesiredEventHandler(hub)
	url := want.URLTemplate
	if !src.Registers() {
		return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonManualRegistrationRequired,
			message: src.ManualRegistration(want, hubName, conn), url: url}
	}
	if conn == nil || hubs == nil {
		return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonWaitingForSecret,
			message: "Waiting for the connection (see condition ConnectionSecretReady)", url: url}
	}
	checkURL := "http://" + ChatServiceHost(hub) + EventHandlerPath
	if err := r.CheckHandshake(ctx, checkURL, conn.cs.Endpoint.Hostname()); err != nil {
		return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonHandshakeFailed, retry: true, url: url,
			message: fmt.Sprintf("The chat server at %s did not pass the abuse-protection handshake, so the service would refuse it: %v", checkURL, err)}
	}
	current, err := hubs.Get(ctx, hubName)
	if err != nil && !webpubsub.IsNotFound(err) {
		return registrationFailed(url, "reading", hubName, err)
	}
	desired := withHandler(current, want, hub.Status.EventHandlerURL)
	registered := fmt.Sprintf("Event handler %s registered for hub %s", url, hubName)
	if current != nil && equality.Semantic.DeepEqual(current.Properties.EventHandlers, desired.Properties.EventHandlers) {
		return registration{status: metav1.ConditionTrue, reason: chatv1.ReasonRegistered, message: registered, url: url}
	}
	if _, err := hubs.CreateOrUpdate(ctx, hubName, desired); err != nil {
		return registrationFailed(url, "writing", hubName, err)
	}
	return registration{status: metav1.ConditionTrue, reason: chatv1.ReasonRegistered, message: registered, url: url, updated: true}
}

func registrationFailed(url, verb, hubName string, err error) registration {
	return registration{status: metav1.ConditionFalse, reason: chatv1.ReasonRegistrationFailed, retry: true, url: url,
		message: fmt.Sprintf("%s the settings of hub %s: %v", verb, hubName, err)}
}

// withHandler returns the settings to write: current's settings with the
// operator's handler first, replacing any handler with the same URL or the
// URL it registered before; handlers others added are kept after it.
func withHandler(current *webpubsub.HubSettings, want webpubsub.EventHandlerSettings, previousURL string) *webpubsub.HubSettings {
	out := &webpubsub.HubSettings{}
	if current != nil {
		out.Properties = current.Properties
	}
	handlers := []webpubsub.EventHandlerSettings{want}
	for _, h := range out.Properties.EventHandlers {
		if h.URLTemplate == want.URLTemplate || (previousURL != "" && h.URLTemplate == previousURL) {
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

// unregister removes hub's event handler from the service, and the hub's
// settings altogether when nothing else is left in them.
func (r *ChatHubReconciler) unregister(ctx context.Context, hub *chatv1.ChatHub, src connectionSource, conn *connection) error {
	hubs, err := src.HubSettings(r, conn)
	if err != nil {
		return err
	}
	if hubs == nil {
		return fmt.Errorf("no way to reach the service's hub settings")
	}
	hubName := hub.Status.Hub
	if hubName == "" {
		hubName = EffectiveHub(hub)
	}
	current, err := hubs.Get(ctx, hubName)
	if webpubsub.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the settings of hub %s: %w", hubName, err)
	}
	urls := []string{EventHandlerURL(hub)}
	if hub.Status.EventHandlerURL != "" {
		urls = append(urls, hub.Status.EventHandlerURL)
	}
	rest, keep := withoutHandlers(current, urls)
	if keep {
		if _, err := hubs.CreateOrUpdate(ctx, hubName, rest); err != nil {
			return fmt.Errorf("writing the settings of hub %s: %w", hubName, err)
		}
		return nil
	}
	if err := hubs.Delete(ctx, hubName); err != nil {
		return fmt.Errorf("deleting the settings of hub %s: %w", hubName, err)
	}
	return nil
}
