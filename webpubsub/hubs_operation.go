// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package webpubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// OperationKind says how a long-running ARM operation is followed.
type OperationKind string

// The kinds of long-running operation.
const (
	// OperationAsync is an Azure-AsyncOperation URL: a status document
	// whose "status" ends in Succeeded, Failed or Canceled.
	OperationAsync OperationKind = "AzureAsyncOperation"
	// OperationLocation is a Location URL that answers 202 until the
	// operation ends.
	OperationLocation OperationKind = "Location"
)

// Operation is a long-running ARM operation started by BeginCreateOrUpdate or
// BeginDelete. It is plain data, so that a caller can keep it (e.g. in a
// status) and poll it later with PollOperation, from another process if need
// be.
type Operation struct {
	// Kind says how to poll URL.
	Kind OperationKind
	// URL is the operation's polling URL, on the management endpoint.
	URL string
	// RetryAfter is the wait the service asked for before the next poll
	// (Retry-After), bounded; DefaultPollInterval when it asked for none.
	RetryAfter time.Duration
}

// ThrottledError is a 429 (or a 503 with Retry-After) from the management API:
// the caller should wait RetryAfter before the next request.
type ThrottledError struct {
	// RetryAfter is the service's Retry-After, bounded to [100ms, 1m].
	RetryAfter time.Duration
	// Err is the response error.
	Err *ResponseError
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.RetryAfter)
}

// Unwrap returns the ResponseError.
func (e *ThrottledError) Unwrap() error { return e.Err }

// RetryAfterOf returns the wait a ThrottledError in err's chain asks for, or 0.
func RetryAfterOf(err error) time.Duration {
	var te *ThrottledError
	if errors.As(err, &te) {
		return te.RetryAfter
	}
	return 0
}

// StatusCodeOf returns the HTTP status of a ResponseError in err's chain, or 0.
func StatusCodeOf(err error) int {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// BeginCreateOrUpdate puts the settings of hub without waiting for a
// long-running operation: it returns the stored settings when the service
// finished at once, or the Operation to poll (settings nil) when it answered
// 201 with an Azure-AsyncOperation URL.
func (c *HubsClient) BeginCreateOrUpdate(ctx context.Context, hub string, s *HubSettings) (*HubSettings, *Operation, error) {
	if s == nil {
		return nil, nil, errors.New("hubs client: settings are nil")
	}
	u, err := c.hubURL(hub)
	if err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(HubSettings{Properties: s.Properties})
	if err != nil {
		return nil, nil, fmt.Errorf("hubs client: encoding settings: %w", err)
	}
	resp, err := c.doJSON(ctx, http.MethodPut, u, body, http.StatusOK, http.StatusCreated)
	if err != nil {
		return nil, nil, err
	}
	if op := resp.header.Get("Azure-AsyncOperation"); resp.status == http.StatusCreated && op != "" {
		o, err := c.operation(OperationAsync, op, resp.header)
		return nil, o, err
	}
	if len(bytes.TrimSpace(resp.body)) == 0 {
		hs, err := c.Get(ctx, hub)
		return hs, nil, err
	}
	hs, err := decodeHubSettings(resp)
	return hs, nil, err
}

// BeginDelete removes the settings of hub without waiting: nil Operation when
// the deletion is done (or there was nothing to delete), else the Operation to
// poll.
func (c *HubsClient) BeginDelete(ctx context.Context, hub string) (*Operation, error) {
	u, err := c.hubURL(hub)
	if err != nil {
		return nil, err
	}
	resp, err := c.doJSON(ctx, http.MethodDelete, u, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil || resp.status != http.StatusAccepted {
		return nil, err
	}
	if loc := resp.header.Get("Location"); loc != "" {
		return c.operation(OperationLocation, loc, resp.header)
	}
	if op := resp.header.Get("Azure-AsyncOperation"); op != "" {
		return c.operation(OperationAsync, op, resp.header)
	}
	return nil, nil
}

func (c *HubsClient) operation(kind OperationKind, raw string, h http.Header) (*Operation, error) {
	u, err := c.pollTarget(raw)
	if err != nil {
		return nil, err
	}
	return &Operation{Kind: kind, URL: u.String(), RetryAfter: c.nextPoll(h)}, nil
}

// nextPoll is the wait before the next poll: the fixed option, else
// Retry-After, else the default.
func (c *HubsClient) nextPoll(h http.Header) time.Duration {
	if c.pollInterval > 0 {
		return c.pollInterval
	}
	return retryAfter(h)
}

// PollOperation asks once whether op has ended. done is false while it runs
// (next is then the wait the service asks for); a failed or canceled
// operation is an error wrapping a *ResponseError.
func (c *HubsClient) PollOperation(ctx context.Context, op Operation) (done bool, next time.Duration, err error) {
	u, err := c.pollTarget(op.URL)
	if err != nil {
		return false, 0, err
	}
	switch op.Kind {
	case OperationLocation:
		resp, err := c.doJSON(ctx, http.MethodGet, u, nil, http.StatusOK, http.StatusAccepted, http.StatusNoContent)
		if IsNotFound(err) {
			return true, 0, nil
		}
		if err != nil {
			return false, 0, err
		}
		if resp.status == http.StatusAccepted {
			return false, c.nextPoll(resp.header), nil
		}
		return true, 0, nil
	case OperationAsync:
		resp, err := c.doJSON(ctx, http.MethodGet, u, nil, http.StatusOK, http.StatusAccepted)
		if err != nil {
			return false, 0, err
		}
		ended, err := asyncStatus(resp, u.Path)
		if !ended {
			return false, c.nextPoll(resp.header), nil
		}
		return true, 0, err
	default:
		return false, 0, fmt.Errorf("hubs client: unknown operation kind %q", truncate(string(op.Kind), 32))
	}
}

// asyncStatus reads an Azure-AsyncOperation status document: whether the
// operation ended, and its error when it did not succeed.
func asyncStatus(resp *armResponse, path string) (bool, error) {
	var st struct {
		Status string `json:"status"`
		Error  *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.body, &st); err != nil {
		return true, fmt.Errorf("hubs client: operation %s: status is not JSON", path)
	}
	switch {
	case strings.EqualFold(st.Status, "Succeeded"):
		return true, nil
	case strings.EqualFold(st.Status, "Failed"), strings.EqualFold(st.Status, "Canceled"), strings.EqualFold(st.Status, "Cancelled"):
		e := &ResponseError{StatusCode: resp.status, Method: http.MethodGet, Path: path, ErrorCode: "Operation" + cleanText(st.Status, 16)}
		if st.Error != nil {
			e.ErrorCode = cleanText(st.Error.Code, 128)
			e.Message = cleanText(st.Error.Message, 1024)
		}
		return true, fmt.Errorf("hubs client: operation %s: %w", strings.ToLower(st.Status), e)
	}
	return false, nil
}
