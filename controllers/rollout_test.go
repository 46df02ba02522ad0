// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestRegistrationIsCheckedAgainWhileThePubSubServiceRollsOut: a new
// PubSub pod starts without the hub's handler, and the check that found it
// registered may have reached the old pod, so a registered hub is checked
// every RetryMin (not every Resync) until its PubSub Deployment settled.
func TestRegistrationIsCheckedAgainWhileThePubSubServiceRollsOut(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	r := &ChatHubReconciler{Now: func() time.Time { return now }, RetryMin: 5 * time.Second, Resync: 2 * time.Minute}
	deploy := func(gen, observed int64, updated, replicas, available int32, progressed time.Duration) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, Replicas: replicas, AvailableReplicas: available,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, LastUpdateTime: metav1.NewTime(now.Add(-progressed))}}},
		}
	}
	tests := map[string]struct {
		d    *appsv1.Deployment
		want time.Duration
	}{
		"no PubSub Deployment":                  {nil, 2 * time.Minute},
		"settled long ago":                      {deploy(3, 3, 1, 1, 1, 10*time.Minute), 2 * time.Minute},
		"the new pod is not available yet":      {deploy(4, 4, 1, 2, 1, time.Second), 5 * time.Second},
		"a rollout stuck for minutes":           {deploy(4, 4, 1, 2, 1, 5*time.Minute), 2 * time.Minute},
		"rolled out a few seconds ago":          {deploy(4, 4, 1, 1, 1, 10*time.Second), 5 * time.Second},
		"rolled out longer than settleTime ago": {deploy(4, 4, 1, 1, 1, settleTime+time.Second), 2 * time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := observation{registration: registration{status: metav1.ConditionTrue}, sourceDeployments: []namedDeployment{{what: "PubSub service", d: tc.d}}}
			if got := r.requeueAfter(nil, obs); got != tc.want {
				t.Errorf("requeue after %s, want %s", got, tc.want)
			}
		})
	}
}
