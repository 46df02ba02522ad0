// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// readiness is the manager's /readyz check: ready means able to reconcile.
// It fails until the informers of the kinds the controllers reconcile
// (ChatHub, WebPubSubService) have synced and, without leader election,
// until the controllers have started (the manager's Elected channel, which
// closes once it has launched them; with synced informers their workers
// start at once).
//
// With leader election a standby replica never starts its controllers, so
// waiting for Elected would keep it unready for good and stall a rolling
// update that needs the new pod ready before the old leader stops; there
// ready means "synced, able to take over".
type readiness struct {
	// elected closes when the controllers have been started; nil means
	// leader election is on and it is not waited for.
	elected <-chan struct{}
	// synced reports whether the informer of obj has synced, creating it
	// if needed (cacheSynced).
	synced func(ctx context.Context, obj client.Object) (bool, error)
	// kinds are the objects whose informers must have synced.
	kinds []client.Object
}

// newReadiness returns the check for a manager whose cache is c and whose
// Elected channel is elected; leaderElect tells whether it is waited for.
func newReadiness(c cache.Informers, elected <-chan struct{}, leaderElect bool) *readiness {
	r := &readiness{elected: elected, synced: cacheSynced(c), kinds: []client.Object{&chatv1.ChatHub{}, &chatv1.WebPubSubService{}}}
	if leaderElect {
		r.elected = nil
	}
	return r
}

// cacheSynced is readiness.synced for the manager's cache. The informers
// are the ones the controllers watch through: getting one does not block,
// and creates it (started with the cache) if no controller has yet.
func cacheSynced(c cache.Informers) func(ctx context.Context, obj client.Object) (bool, error) {
	return func(ctx context.Context, obj client.Object) (bool, error) {
		inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return false, err
		}
		return inf.HasSynced(), nil
	}
}

// errNotStarted is the readiness failure before the controllers start.
var errNotStarted = errors.New("the controllers have not started")

// check is the healthz.Checker.
func (r *readiness) check(req *http.Request) error {
	if r.elected != nil {
		select {
		case <-r.elected:
		default:
			return errNotStarted
		}
	}
	for _, obj := range r.kinds {
		ok, err := r.synced(req.Context(), obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		if !ok {
			return fmt.Errorf("the cache of %T has not synced", obj)
		}
	}
	return nil
}

var _ healthz.Checker = (*readiness)(nil).check
