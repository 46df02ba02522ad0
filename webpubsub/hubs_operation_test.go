// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHubsClientBeginCreateOrUpdateReturnsTheOperation(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	f.putStatus, f.opStatuses = 201, []string{"Running", "Running", "Succeeded"}
	c := f.client(t, nil)
	hs, op, err := c.BeginCreateOrUpdate(context.Background(), "chat", sampleSettings())
	if err != nil || hs != nil || op == nil {
		t.Fatalf("BeginCreateOrUpdate = %v, %v, %v; want only an operation", hs, op, err)
	}
	if op.Kind != OperationAsync || !strings.HasPrefix(op.URL, f.srv.URL+"/ops/put") {
		t.Errorf("operation %+v, want the Azure-AsyncOperation URL", op)
	}
	var polls int
	for {
		polls++
		done, next, err := c.PollOperation(context.Background(), *op)
		if err != nil {
			t.Fatalf("poll %d: %v", polls, err)
		}
		if done {
			break
		}
		if next <= 0 {
			t.Errorf("poll %d: next wait %s, want > 0", polls, next)
		}
	}
	if polls != 3 {
		t.Errorf("%d polls, want 3 (Running, Running, Succeeded)", polls)
	}
	f.done(t, []string{"PUT " + hubPath, "GET /ops/put", "GET /ops/put", "GET /ops/put"})
}

func TestHubsClientBeginCreateOrUpdateSynchronous(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	hs, op, err := f.client(t, nil).BeginCreateOrUpdate(context.Background(), "chat", sampleSettings())
	if err != nil || op != nil || hs == nil || hs.Name != "chat" {
		t.Fatalf("BeginCreateOrUpdate = %+v, %v, %v; want the stored settings", hs, op, err)
	}
}

func TestHubsClientPollOperationFailure(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	f.putStatus, f.opStatuses, f.opError = 201, []string{"Failed"}, `{"code":"EventHandlerValidationFailed","message":"abuse protection failed"}`
	c := f.client(t, nil)
	_, op, err := c.BeginCreateOrUpdate(context.Background(), "chat", sampleSettings())
	if err != nil {
		t.Fatal(err)
	}
	done, _, err := c.PollOperation(context.Background(), *op)
	var re *ResponseError
	if !done || !errors.As(err, &re) || re.ErrorCode != "EventHandlerValidationFailed" {
		t.Fatalf("PollOperation = %v, %v; want done with the operation's error", done, err)
	}
}

func TestHubsClientBeginDeleteFollowsLocation(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	f.delStatus, f.locPolls = 202, 1
	c := f.client(t, nil)
	op, err := c.BeginDelete(context.Background(), "chat")
	if err != nil || op == nil || op.Kind != OperationLocation {
		t.Fatalf("BeginDelete = %+v, %v; want a Location operation", op, err)
	}
	for i, want := range []bool{false, true} {
		done, _, err := c.PollOperation(context.Background(), *op)
		if err != nil || done != want {
			t.Fatalf("poll %d = %v, %v; want done=%v", i, done, err, want)
		}
	}
	f.delStatus = 204
	if op, err := c.BeginDelete(context.Background(), "chat"); err != nil || op != nil {
		t.Errorf("BeginDelete of a finished deletion = %+v, %v; want nothing to poll", op, err)
	}
}

func TestHubsClientPollOperationRefusesAnotherHost(t *testing.T) {
	t.Parallel()
	f := newARMFake(t)
	_, _, err := f.client(t, nil).PollOperation(context.Background(), Operation{Kind: OperationAsync, URL: "http://elsewhere.example/ops/put"})
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	f.done(t, nil)
}

func TestHubsClientThrottling(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		writeJSON(w, http.StatusTooManyRequests, `{"error":{"code":"TooManyRequests","message":"slow down"}}`)
	}))
	t.Cleanup(srv.Close)
	rid, _ := ParseResourceID(testResourceID)
	c, err := NewHubsClient(srv.URL, rid, AccessKeyTokenSource(testKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(context.Background(), "chat")
	if got := RetryAfterOf(err); got != 7*time.Second {
		t.Errorf("RetryAfterOf(%v) = %s, want 7s", err, got)
	}
	if StatusCodeOf(err) != http.StatusTooManyRequests {
		t.Errorf("StatusCodeOf(%v) = %d, want 429", err, StatusCodeOf(err))
	}
	if RetryAfterOf(errors.New("other")) != 0 || StatusCodeOf(errors.New("other")) != 0 {
		t.Error("an unrelated error has a Retry-After or a status")
	}
}

func TestConfiguredIdentity(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"nothing":           {env: nil, want: ""},
		"tenant alone":      {env: map[string]string{"AZURE_TENANT_ID": "t"}, want: ""},
		"workload identity": {env: map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/f", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}, want: "WorkloadIdentity"},
		"service principal": {env: map[string]string{"AZURE_CLIENT_SECRET": "s", "AZURE_CLIENT_ID": "c", "AZURE_TENANT_ID": "t"}, want: "ServicePrincipal"},
		"user-assigned":     {env: map[string]string{"AZURE_CLIENT_ID": "c"}, want: "ManagedIdentity"},
		"app service":       {env: map[string]string{"IDENTITY_ENDPOINT": "http://localhost"}, want: "ManagedIdentity"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := ConfiguredIdentity(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("ConfiguredIdentity = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDefaultEntraTokenSourceWithoutIdentity(t *testing.T) {
	// Not parallel: it clears the identity environment.
	for _, k := range []string{"AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
		"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"} {
		t.Setenv(k, "")
	}
	ts, err := DefaultEntraTokenSource()
	if !errors.Is(err, ErrNoCredential) || ts != nil {
		t.Fatalf("DefaultEntraTokenSource = %v, %v; want ErrNoCredential", ts, err)
	}
}
