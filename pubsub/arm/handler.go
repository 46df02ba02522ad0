// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package arm serves the hub settings of the PubSub service in the shape of the
// Azure Resource Manager API (Microsoft.SignalRService/webPubSub/hubs, api-version
// 2024-03-01), so that the code that registers event handlers on Azure works here unchanged.
// Every subscription, resource group and resource name address this one service.
package arm

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chathub/chathub/pubsub/settings"
	"github.com/chathub/chathub/webpubsub"
)

// ResourceType is the ARM type of a hub settings resource.
const ResourceType = "Microsoft.SignalRService/WebPubSub/hubs"

// PathPrefix is the path prefix this handler serves.
const PathPrefix = "/subscriptions/"

// maxBodyBytes bounds a PUT body.
const maxBodyBytes = 1 << 20

// Config configures the handler. Store and AccessKeys are required.
type Config struct {
	// Store receives the hub settings; the upstream dispatcher reads them from there.
	Store *settings.Store
	// AccessKeys returns the current access keys: bearer tokens must be signed with one, and
	// listKeys returns them.
	AccessKeys func() []string
	// Endpoint is the service endpoint advertised in the listKeys connection strings and
	// accepted as the host of a token audience; nil => taken from the request.
	Endpoint *url.URL
	// Logger receives one line per change; nil => discard.
	Logger *slog.Logger
	// Now returns the current time (token expiry); nil => time.Now.
	Now func() time.Time
	// Authenticated, when set, is called for each request whose token is valid, before the
	// request is carried out.
	Authenticated func(r *http.Request)
	// Changed, when set, is called after the settings of a hub are set (hs, as stored) or
	// deleted (hs nil) through this API: the replicas of a clustered service pass the change on.
	Changed func(hub string, hs *webpubsub.HubSettings)
}

type handler struct {
	cfg Config
	log *slog.Logger
}

// NewHandler returns the HTTP handler of the ARM-shaped hub settings API, for requests under
// /subscriptions/.
func NewHandler(cfg Config) http.Handler {
	if cfg.Store == nil {
		cfg.Store = settings.NewStore()
	}
	if cfg.AccessKeys == nil {
		cfg.AccessKeys = func() []string { return nil }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &handler{cfg: cfg, log: log}
}

// route is a parsed resource path.
type route struct {
	sub, group, name string
	kind             routeKind
	hub              string
}

type routeKind int

const (
	routeHub routeKind = iota
	routeHubList
	routeListKeys
)

// parseRoute parses /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.SignalRService/webPubSub/{name}
// followed by /hubs/{hub}, /hubs or /listKeys. Literal segments are case-insensitive.
func parseRoute(path string) (route, bool) {
	seg := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if len(seg) < 10 || seg[0] != "" {
		return route{}, false
	}
	lit := map[int]string{1: "subscriptions", 3: "resourceGroups", 5: "providers", 6: "Microsoft.SignalRService", 7: "webPubSub"}
	for i, want := range lit {
		if !strings.EqualFold(seg[i], want) {
			return route{}, false
		}
	}
	r := route{sub: seg[2], group: seg[4], name: seg[8]}
	if r.sub == "" || r.group == "" || r.name == "" {
		return route{}, false
	}
	switch {
	case len(seg) == 10 && strings.EqualFold(seg[9], "listKeys"):
		r.kind = routeListKeys
	case len(seg) == 10 && strings.EqualFold(seg[9], "hubs"):
		r.kind = routeHubList
	case len(seg) == 11 && strings.EqualFold(seg[9], "hubs") && seg[10] != "":
		r.kind, r.hub = routeHub, seg[10]
	default:
		return route{}, false
	}
	return r, true
}

// resourceID returns the ARM id of the service resource of r.
func (r route) resourceID() string {
	return "/subscriptions/" + r.sub + "/resourceGroups/" + r.group +
		"/providers/Microsoft.SignalRService/WebPubSub/" + r.name
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "no ARM resource at this path; expected /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.SignalRService/webPubSub/{name}/hubs/{hub} or …/listKeys")
		return
	}
	if err := h.authenticate(r); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error())
		return
	}
	if h.cfg.Authenticated != nil {
		h.cfg.Authenticated(r)
	}
	switch v := r.URL.Query().Get("api-version"); {
	case v == "":
		writeError(w, http.StatusBadRequest, "MissingApiVersionParameter", fmt.Sprintf("the api-version query parameter is required; the supported version is %s", webpubsub.ARMAPIVersion))
		return
	case v != webpubsub.ARMAPIVersion:
		writeError(w, http.StatusBadRequest, "InvalidApiVersionParameter", fmt.Sprintf("api-version %q is not supported; the supported version is %s", clip(v), webpubsub.ARMAPIVersion))
		return
	}
	switch rt.kind {
	case routeListKeys:
		if !allow(w, r, http.MethodPost) {
			return
		}
		h.listKeys(w, r)
	case routeHubList:
		if !allow(w, r, http.MethodGet) {
			return
		}
		h.listHubs(w, rt)
	case routeHub:
		switch r.Method {
		case http.MethodGet:
			h.getHub(w, rt)
		case http.MethodPut:
			h.putHub(w, r, rt)
		case http.MethodDelete:
			h.deleteHub(w, rt)
		default:
			w.Header().Set("Allow", "GET, PUT, DELETE")
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf("method %s is not allowed on a hub; use GET, PUT or DELETE", r.Method))
		}
	}
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf("method %s is not allowed here; use %s", r.Method, method))
	return false
}

func (h *handler) getHub(w http.ResponseWriter, rt route) {
	hs, ok := h.cfg.Store.Get(rt.hub)
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("hub %q has no settings", clip(rt.hub)))
		return
	}
	writeJSON(w, http.StatusOK, resource(rt, hs))
}

func (h *handler) listHubs(w http.ResponseWriter, rt route) {
	list := struct {
		Value []*webpubsub.HubSettings `json:"value"`
	}{Value: []*webpubsub.HubSettings{}}
	for _, hub := range h.cfg.Store.Hubs() {
		if hs, ok := h.cfg.Store.Get(hub); ok {
			r := rt
			r.hub = hs.Name
			list.Value = append(list.Value, resource(r, hs))
		}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *handler) putHub(w http.ResponseWriter, r *http.Request, rt route) {
	var body webpubsub.HubSettings
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "InvalidRequest", fmt.Sprintf("the request body is larger than %d bytes", maxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "InvalidRequest", "the request body is not a valid hub settings JSON object: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "the request body has data after the JSON object")
		return
	}
	hs := &webpubsub.HubSettings{Name: rt.hub, Properties: body.Properties}
	_, existed := h.cfg.Store.Get(rt.hub)
	if err := h.cfg.Store.Set(rt.hub, hs); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	h.log.Info("Hub settings updated", "hub", rt.hub, "eventHandlers", len(hs.Properties.EventHandlers), "created", !existed)
	stored, _ := h.cfg.Store.Get(rt.hub)
	if h.cfg.Changed != nil {
		h.cfg.Changed(rt.hub, stored)
	}
	writeJSON(w, status, resource(rt, stored))
}

func (h *handler) deleteHub(w http.ResponseWriter, rt route) {
	if !h.cfg.Store.Delete(rt.hub) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.log.Info("Hub settings deleted", "hub", rt.hub)
	if h.cfg.Changed != nil {
		h.cfg.Changed(rt.hub, nil)
	}
	w.WriteHeader(http.StatusOK)
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request) {
	keys := h.cfg.AccessKeys()
	var live []string
	for _, k := range keys {
		if k != "" {
			live = append(live, k)
		}
	}
	if len(live) == 0 {
		writeError(w, http.StatusInternalServerError, "InternalError", "the service has no access key")
		return
	}
	primary, secondary := live[0], live[0]
	if len(live) > 1 {
		secondary = live[1]
	}
	ep := h.endpoint(r)
	out := webpubsub.Keys{
		PrimaryKey:                primary,
		SecondaryKey:              secondary,
		PrimaryConnectionString:   (&webpubsub.ConnectionString{Endpoint: ep, AccessKey: primary, Version: "1.0"}).Format(),
		SecondaryConnectionString: (&webpubsub.ConnectionString{Endpoint: ep, AccessKey: secondary, Version: "1.0"}).Format(),
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// endpoint returns the advertised endpoint, or the one the request reached.
func (h *handler) endpoint(r *http.Request) *url.URL {
	if h.cfg.Endpoint != nil {
		return &url.URL{Scheme: h.cfg.Endpoint.Scheme, Host: h.cfg.Endpoint.Host}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host}
}

// resource returns hs in the ARM resource shape for rt.
func resource(rt route, hs *webpubsub.HubSettings) *webpubsub.HubSettings {
	out := *hs
	out.ID = rt.resourceID() + "/hubs/" + hs.Name
	out.Name = hs.Name
	out.Type = ResourceType
	return &out
}

// armError is the ARM error body.
type armError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e armError
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("x-ms-failure-cause", "gateway")
	w.Header().Set(webpubsub.HeaderErrorCode, code)
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func clip(s string) string {
	const n = 100
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
