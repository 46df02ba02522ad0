// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	chatv1 "github.com/chathub/chathub/api/v1"
)

func deployment(name string, replicas, available int32) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 1, AvailableReplicas: available, ReadyReplicas: available},
	}
	if available > 0 {
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
	}
	return d
}

// short is a condition reduced to what the table compares.
type short struct{ Type, Status, Reason string }

func shorten(cs []metav1.Condition) []short {
	out := make([]short, 0, len(cs))
	for _, c := range cs {
		out = append(out, short{c.Type, string(c.Status), c.Reason})
	}
	return out
}

func TestComputeStatus(t *testing.T) {
	registered := registration{status: metav1.ConditionTrue, reason: chatv1.ReasonRegistered, message: "ok", url: "http://h/eventhandler"}
	tests := map[string]struct {
		obs           observation
		want          []short
		wantReady     int32
		wantSecret    string
		wantReadyNote string
	}{
		"everything in place is Ready": {
			obs: observation{source: chatv1.SourceEmbedded, secretName: "c-connection", endpoint: "http://e",
				server: deployment("c", 2, 2), sourceDeployments: []namedDeployment{{"PubSub service", deployment("c-pubsub", 1, 1)}},
				registration: registered},
			want: []short{
				{"ConnectionSecretReady", "True", "SecretReady"}, {"ServerAvailable", "True", "DeploymentAvailable"},
				{"EventHandlerRegistered", "True", "Registered"}, {"Ready", "True", "Ready"}},
			wantReady: 2, wantSecret: "c-connection",
		},
		"a PubSub service without pods is not available": {
			obs: observation{source: chatv1.SourceEmbedded, secretName: "c-connection", server: deployment("c", 1, 1),
				sourceDeployments: []namedDeployment{{"PubSub service", deployment("c-pubsub", 1, 0)}}, registration: registered},
			want: []short{
				{"ConnectionSecretReady", "True", "SecretReady"}, {"ServerAvailable", "False", "DeploymentProgressing"},
				{"EventHandlerRegistered", "True", "Registered"}, {"Ready", "False", "DeploymentProgressing"}},
			wantReady: 1, wantSecret: "c-connection",
		},
		"a missing source Secret makes everything wait": {
			obs: observation{source: chatv1.SourceConnectionString,
				secretProblem: &problem{reason: chatv1.ReasonSourceSecretNotFound, message: "gone"},
				registration:  registration{status: metav1.ConditionFalse, reason: chatv1.ReasonManualRegistrationRequired, message: "by hand"}},
			want: []short{
				{"ConnectionSecretReady", "False", "SourceSecretNotFound"}, {"ServerAvailable", "False", "DeploymentProgressing"},
				{"EventHandlerRegistered", "False", "ManualRegistrationRequired"}, {"Ready", "False", "SourceSecretNotFound"}},
		},
		"a handler to register by hand holds back Ready": {
			obs: observation{source: chatv1.SourceConnectionString, secretName: "c-connection", server: deployment("c", 1, 1),
				registration: registration{status: metav1.ConditionFalse, reason: chatv1.ReasonManualRegistrationRequired, message: "by hand"}},
			want: []short{
				{"ConnectionSecretReady", "True", "SecretReady"}, {"ServerAvailable", "True", "DeploymentAvailable"},
				{"EventHandlerRegistered", "False", "ManualRegistrationRequired"}, {"Ready", "False", "ManualRegistrationRequired"}},
			wantReady: 1, wantSecret: "c-connection",
		},
		"registration Manual does not hold back Ready": {
			obs: observation{source: chatv1.SourceConnectionString, secretName: "c-connection", server: deployment("c", 1, 1),
				registration: registration{status: metav1.ConditionUnknown, reason: chatv1.ReasonManual, message: "by hand"}},
			want: []short{
				{"ConnectionSecretReady", "True", "SecretReady"}, {"ServerAvailable", "True", "DeploymentAvailable"},
				{"EventHandlerRegistered", "Unknown", "Manual"}, {"Ready", "True", "Ready"}},
			wantReady: 1, wantSecret: "c-connection",
		},
		"a hub conflict is the cause, before anything else": {
			obs: observation{source: chatv1.SourceAzure,
				secretProblem: &problem{reason: chatv1.ReasonListKeysFailed, message: "ARM down"},
				conflict:      &problem{reason: chatv1.ReasonHubConflict, message: "owned by team-a/lobby"},
				registration:  registration{status: metav1.ConditionFalse, reason: chatv1.ReasonHubConflict, message: "owned by team-a/lobby"}},
			want: []short{
				{"ConnectionSecretReady", "False", "ListKeysFailed"}, {"ServerAvailable", "False", "HubConflict"},
				{"EventHandlerRegistered", "False", "HubConflict"}, {"Ready", "False", "HubConflict"}},
		},
		"an object not owned is the cause": {
			obs: observation{source: chatv1.SourceEmbedded, secretName: "c-connection",
				serverProblem: &problem{reason: chatv1.ReasonObjectNotOwned, message: "Service c exists"},
				registration:  registration{status: metav1.ConditionFalse, reason: chatv1.ReasonObjectNotOwned, message: "Service c exists"}},
			want: []short{
				{"ConnectionSecretReady", "True", "SecretReady"}, {"ServerAvailable", "False", "ObjectNotOwned"},
				{"EventHandlerRegistered", "False", "ObjectNotOwned"}, {"Ready", "False", "ObjectNotOwned"}},
			wantSecret: "c-connection",
		},
		"a server scaled to zero is not available": {
			obs: observation{source: chatv1.SourceAzure, secretName: "c-connection", server: deployment("c", 0, 0), registration: registered},
			want: []short{
				{"ConnectionSecretReady", "True", "SecretReady"}, {"ServerAvailable", "False", "ScaledToZero"},
				{"EventHandlerRegistered", "True", "Registered"}, {"Ready", "False", "ScaledToZero"}},
			wantSecret: "c-connection",
		},
	}
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.obs.generation = 3
			st := computeStatus(chatv1.ChatHubStatus{}, tc.obs, now)
			if diff := cmp.Diff(tc.want, shorten(st.Conditions)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != 3 || c.Message == "" {
					t.Errorf("condition %s: observedGeneration %d, message %q", c.Type, c.ObservedGeneration, c.Message)
				}
			}
			if st.ObservedGeneration != 3 || st.ReadyReplicas != tc.wantReady || st.ConnectionSecretName != tc.wantSecret {
				t.Errorf("status %+v", st)
			}
		})
	}
}

func TestComputeStatusKeepsTransitionTimes(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	obs := observation{generation: 1, source: chatv1.SourceAzure, secretName: "c-connection", server: deployment("c", 1, 1),
		registration: registration{status: metav1.ConditionTrue, reason: chatv1.ReasonRegistered, message: "ok"}}
	first := computeStatus(chatv1.ChatHubStatus{}, obs, t0)
	second := computeStatus(first, obs, t1)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("an unchanged observation changed the status (-first +second):\n%s", diff)
	}
	obs.registration = registration{status: metav1.ConditionFalse, reason: chatv1.ReasonRegistrationFailed, message: "down", retry: true}
	third := computeStatus(second, obs, t1)
	for _, c := range third.Conditions {
		want := t0
		if c.Type == chatv1.ConditionEventHandlerRegistered || c.Type == chatv1.ConditionReady {
			want = t1
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s: lastTransitionTime %s, want %s", c.Type, c.LastTransitionTime, want)
		}
	}
	// Unknown (registration Manual) holds as well.
	obs.registration = registration{status: metav1.ConditionUnknown, reason: chatv1.ReasonManual, message: "by hand"}
	fourth := computeStatus(third, obs, t1)
	fifth := computeStatus(fourth, obs, metav1.NewTime(t1.Add(time.Hour)))
	if diff := cmp.Diff(fourth, fifth); diff != "" {
		t.Errorf("an unchanged Manual observation changed the status (-fourth +fifth):\n%s", diff)
	}
}

func TestReplicasReady(t *testing.T) {
	tests := map[string]struct {
		server *appsv1.Deployment
		want   string
	}{
		"no Deployment yet":        {want: "0/0"},
		"one of two pods is ready": {server: deployment("c", 2, 1), want: "1/2"},
		"all pods are ready":       {server: deployment("c", 3, 3), want: "3/3"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := computeStatus(chatv1.ChatHubStatus{}, observation{server: tc.server}, metav1.Now())
			if st.ReplicasReady != tc.want {
				t.Errorf("replicasReady %q, want %q", st.ReplicasReady, tc.want)
			}
		})
	}
}
