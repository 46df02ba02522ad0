// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"cmp"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// observation is what one reconcile saw and did; computeStatus turns it into
// the ChatHub's status. It never holds a key.
type observation struct {
	generation int64
	hub        string
	source     chatv1.SourceKind
	// secretName is the connection Secret's name; "" while there is none.
	secretName string
	// secretProblem is why the connection Secret is not up to date; nil when it is.
	secretProblem *problem
	// endpoint is the service endpoint (no key); "" when unknown.
	endpoint string
	// server is the chat server Deployment as last read; nil when absent.
	server *appsv1.Deployment
	// sourceDeployments are the Deployments the source runs beside the
	// chat server (the embedded PubSub service); empty while there is no
	// connection Secret.
	sourceDeployments []namedDeployment
	// conflict is why this ChatHub does not own its hub (HubConflict);
	// nil when it owns it.
	conflict *problem
	// serverProblem is why the objects of the chat server could not be
	// applied (ObjectNotOwned, InvalidSpec); nil when they were.
	serverProblem *problem
	// registration is the outcome of the registration step.
	registration registration
	url          string
}

// namedDeployment is a Deployment a source runs, with what messages call it
// ("PubSub service"); d is nil when it does not exist.
type namedDeployment struct {
	what string
	d    *appsv1.Deployment
}

// computeStatus returns the status for obs, starting from old so that
// conditions keep their lastTransitionTime while their status holds.
func computeStatus(old chatv1.ChatHubStatus, obs observation, now metav1.Time) chatv1.ChatHubStatus {
	st := *old.DeepCopy()
	st.ObservedGeneration = obs.generation
	st.Hub = obs.hub
	st.Source = obs.source
	st.URL = obs.url
	if obs.registration.report {
		st.EventHandlerURL = obs.registration.url
	}
	if obs.registration.setRegistered {
		st.RegisteredEventHandlers = obs.registration.registered
	}
	st.PendingOperation = obs.registration.pending.DeepCopy()
	if obs.endpoint != "" {
		st.Endpoint = obs.endpoint
	}
	st.ConnectionSecretName = obs.secretName
	st.Replicas, st.ReadyReplicas = 0, 0
	if obs.server != nil {
		if obs.server.Spec.Replicas != nil {
			st.Replicas = *obs.server.Spec.Replicas
		}
		st.ReadyReplicas = obs.server.Status.ReadyReplicas
	}
	st.ReplicasReady = fmt.Sprintf("%d/%d", st.ReadyReplicas, st.Replicas)

	set := func(typ string, ok bool, reason, msg string) metav1.Condition {
		c := metav1.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: msg,
			ObservedGeneration: obs.generation, LastTransitionTime: now}
		if ok {
			c.Status = metav1.ConditionTrue
		}
		meta.SetStatusCondition(&st.Conditions, c)
		return c
	}

	var secretCond metav1.Condition
	if p := obs.secretProblem; p != nil {
		secretCond = set(chatv1.ConditionConnectionSecretReady, false, p.reason, p.message)
	} else {
		secretCond = set(chatv1.ConditionConnectionSecretReady, true, chatv1.ReasonSecretReady,
			fmt.Sprintf("Secret %s holds the connection string for %s", st.ConnectionSecretName, obs.endpoint))
	}

	ok, reason, msg := serverAvailability(obs.server, "chat server")
	for _, sd := range obs.sourceDeployments {
		if !ok {
			break
		}
		ok, reason, msg = serverAvailability(sd.d, sd.what)
	}
	if ok && len(obs.sourceDeployments) > 0 {
		msg = "The chat server"
		for i, sd := range obs.sourceDeployments {
			sep := ", the "
			if i == len(obs.sourceDeployments)-1 {
				sep = " and the "
			}
			msg += sep + sd.what
		}
		msg += " are available"
	}
	if p := cmp.Or(obs.conflict, obs.serverProblem); p != nil {
		ok, reason, msg = false, p.reason, p.message
	}
	serverCond := set(chatv1.ConditionServerAvailable, ok, reason, msg)

	reg := obs.registration
	regCond := metav1.Condition{Type: chatv1.ConditionEventHandlerRegistered, Status: reg.status, Reason: reg.reason,
		Message: reg.message, ObservedGeneration: obs.generation, LastTransitionTime: now}
	if regCond.Status == "" {
		regCond.Status = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&st.Conditions, regCond)

	// Ready's reason is the reason of the condition that holds it back; a
	// conflict comes first: nothing else matters while another ChatHub owns
	// the hub. An event handler registered by hand (reason Manual, status
	// Unknown) does not hold it back.
	ready, readyReason, readyMsg := true, chatv1.ReasonReady, "The chat is ready at "+obs.url
	holders := []metav1.Condition{secretCond, serverCond, regCond}
	if obs.conflict != nil {
		holders = []metav1.Condition{serverCond}
	}
	for _, c := range holders {
		if c.Status == metav1.ConditionTrue || c.Reason == chatv1.ReasonManual {
			continue
		}
		ready, readyReason, readyMsg = false, c.Reason, fmt.Sprintf("%s is %s: %s", c.Type, c.Status, c.Message)
		break
	}
	if ready && reg.reason == chatv1.ReasonManual {
		readyMsg += "; the event handler is registered by hand (spec.eventHandler.registration: Manual)"
	}
	set(chatv1.ConditionReady, ready, readyReason, readyMsg)
	return st
}

// serverAvailability reports whether a Deployment has available pods.
func serverAvailability(d *appsv1.Deployment, what string) (bool, string, string) {
	if d == nil {
		return false, chatv1.ReasonDeploymentProgressing, fmt.Sprintf("The %s Deployment does not exist yet", what)
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if want == 0 {
		return false, chatv1.ReasonScaledToZero, fmt.Sprintf("The %s Deployment %s is scaled to zero", what, d.Name)
	}
	available := false
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			available = true
		}
	}
	if d.Status.ObservedGeneration < d.Generation || !available || d.Status.AvailableReplicas == 0 {
		return false, chatv1.ReasonDeploymentProgressing,
			fmt.Sprintf("The %s Deployment %s has %d/%d pods available", what, d.Name, d.Status.AvailableReplicas, want)
	}
	return true, chatv1.ReasonDeploymentAvailable,
		fmt.Sprintf("The %s Deployment %s has %d/%d pods available", what, d.Name, d.Status.AvailableReplicas, want)
}
