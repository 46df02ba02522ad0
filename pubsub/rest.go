// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/chathub/chathub/pubsub/cluster"
	"github.com/chathub/chathub/pubsub/filter"
	"github.com/chathub/chathub/pubsub/hub"
	"github.com/chathub/chathub/webpubsub"
)

// supportedAPIVersions are the GA data-plane api-versions the service accepts.
var supportedAPIVersions = map[string]bool{
	"2021-10-01": true, "2022-11-01": true, "2023-07-01": true, "2024-01-01": true, "2024-12-01": true,
}

// apiError is a REST error: status, x-ms-error-code and an ErrorDetail body.
type apiError struct {
	status  int
	code    string
	message string
	target  string
}

func badRequest(format string, a ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "Error.BadRequest", message: fmt.Sprintf(format, a...)}
}

func connectionNotFound(id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "Error.Connection.NotExisted",
		message: "connection " + quote(id) + " does not exist", target: "Connection"}
}

// restFunc serves one REST operation on hub h.
type restFunc func(w http.ResponseWriter, r *http.Request, h *hub.Hub) *apiError

// rest wraps an operation with authentication, api-version and hub checks, errors and metrics.
func (s *Server) rest(op string, fn restFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		sw := &statusWriter{ResponseWriter: w, status: &status}
		aerr := s.restCall(sw, r, fn)
		if aerr != nil {
			status = aerr.status
			writeAPIError(w, r, aerr)
		}
		s.metrics.restRequests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	}
}

func (s *Server) restCall(w http.ResponseWriter, r *http.Request, fn restFunc) *apiError {
	if _, err := s.verifyToken(bearerToken(r), r, restPaths(r)...); err != nil {
		return &apiError{status: http.StatusUnauthorized, code: "Error.Unauthorized", message: err.Error()}
	}
	markAuthenticated(r.Context())
	if v := r.URL.Query().Get("api-version"); v != "" && !supportedAPIVersions[v] {
		return badRequest("api-version %s is not supported; use 2024-12-01", quote(v))
	}
	hubName := r.PathValue("hub")
	if err := webpubsub.ValidateHubName(hubName); err != nil {
		return badRequest("%s", err.Error())
	}
	if s.cluster != nil && !s.cluster.Ready() {
		return replicasUnavailable(cluster.ErrNotConnected)
	}
	return fn(w, r, s.reg.Hub(hubName))
}

// statusWriter records the status an operation wrote.
type statusWriter struct {
	http.ResponseWriter
	status *int
}

func (w *statusWriter) WriteHeader(code int) {
	*w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func writeAPIError(w http.ResponseWriter, r *http.Request, e *apiError) {
	w.Header().Set(webpubsub.HeaderErrorCode, e.code)
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	body := map[string]any{"code": e.code, "message": e.message}
	if e.target != "" {
		body["target"] = e.target
	}
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pathValue returns a path parameter that must not be empty.
func pathValue(r *http.Request, name string) (string, *apiError) {
	v := r.PathValue(name)
	if v == "" {
		return "", badRequest("%s must not be empty", name)
	}
	return v, nil
}

// groupValue returns a valid group name path parameter.
func groupValue(r *http.Request) (string, *apiError) {
	g := r.PathValue("group")
	if err := webpubsub.ValidateGroupName(g); err != nil {
		return "", badRequest("%s", err.Error())
	}
	return g, nil
}

// parseFilter parses the filter query parameter ("" matches everything).
func parseFilter(src string) (*filter.Expr, *apiError) {
	if src == "" {
		return nil, nil
	}
	f, err := filter.Parse(src)
	if err != nil {
		return nil, badRequest("invalid filter: %s", err.Error())
	}
	return f, nil
}

// excludedSet returns the repeated excluded query parameter as a set.
func excludedSet(r *http.Request) map[string]bool {
	ex := r.URL.Query()["excluded"]
	if len(ex) == 0 {
		return nil
	}
	m := make(map[string]bool, len(ex))
	for _, id := range ex {
		m[id] = true
	}
	return m
}

func (s *Server) restRoutes(mux *http.ServeMux) {
	const p = "/api/hubs/{hub}"
	routes := []struct {
		pattern, op string
		fn          restFunc
	}{
		{"POST " + p + "/:send", "SendToAll", s.sendToAll},
		{"POST " + p + "/users/{userId}/:send", "SendToUser", s.sendToUser},
		{"POST " + p + "/connections/{connectionId}/:send", "SendToConnection", s.sendToConnection},
		{"POST " + p + "/groups/{group}/:send", "SendToGroup", s.sendToGroup},
		{"PUT " + p + "/groups/{group}/connections/{connectionId}", "AddConnectionToGroup", s.addConnectionToGroup},
		{"DELETE " + p + "/groups/{group}/connections/{connectionId}", "RemoveConnectionFromGroup", s.removeConnectionFromGroup},
		{"DELETE " + p + "/connections/{connectionId}/groups", "RemoveConnectionFromAllGroups", s.removeConnectionFromAllGroups},
		{"PUT " + p + "/users/{userId}/groups/{group}", "AddUserToGroup", s.addUserToGroup},
		{"DELETE " + p + "/users/{userId}/groups/{group}", "RemoveUserFromGroup", s.removeUserFromGroup},
		{"DELETE " + p + "/users/{userId}/groups", "RemoveUserFromAllGroups", s.removeUserFromAllGroups},
		{"POST " + p + "/:addToGroups", "AddConnectionsToGroups", s.addToGroups},
		{"POST " + p + "/:removeFromGroups", "RemoveConnectionsFromGroups", s.removeFromGroups},
		{"GET " + p + "/groups/{group}/connections", "ListConnectionsInGroup", s.listConnectionsInGroup},
		{"DELETE " + p + "/connections/{connectionId}", "CloseConnection", s.closeConnection},
		{"POST " + p + "/:closeConnections", "CloseAllConnections", s.closeAllConnections},
		{"POST " + p + "/groups/{group}/:closeConnections", "CloseGroupConnections", s.closeGroupConnections},
		{"POST " + p + "/users/{userId}/:closeConnections", "CloseUserConnections", s.closeUserConnections},
		{"HEAD " + p + "/connections/{connectionId}", "ConnectionExists", s.connectionExists},
		{"HEAD " + p + "/groups/{group}", "GroupExists", s.groupExists},
		{"HEAD " + p + "/users/{userId}", "UserExists", s.userExists},
		{"PUT " + p + "/permissions/{permission}/connections/{connectionId}", "GrantPermission", s.grantPermission},
		{"DELETE " + p + "/permissions/{permission}/connections/{connectionId}", "RevokePermission", s.revokePermission},
		{"HEAD " + p + "/permissions/{permission}/connections/{connectionId}", "CheckPermission", s.checkPermission},
		{"POST " + p + "/:generateToken", "GenerateClientToken", s.generateToken},
	}
	for _, rt := range routes {
		mux.HandleFunc(rt.pattern, s.rest(rt.op, rt.fn))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, r, &apiError{status: http.StatusNotFound, code: "Error.NotFound", message: "no such operation: " + r.Method + " " + r.URL.Path})
	})
}
