// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package v1

// Condition types of a ChatHub.
const (
	// ConditionReady is True when the chat works end to end: connection
	// Secret, chat server and registered event handler.
	ConditionReady = "Ready"
	// ConditionConnectionSecretReady is True when the connection Secret holds
	// a valid connection string.
	ConditionConnectionSecretReady = "ConnectionSecretReady"
	// ConditionServerAvailable is True when the chat server (and, when
	// embedded, the PubSub service) has available replicas.
	ConditionServerAvailable = "ServerAvailable"
	// ConditionEventHandlerRegistered is True when the event handler is
	// registered with the service with the desired settings.
	ConditionEventHandlerRegistered = "EventHandlerRegistered"

	// ConditionAvailable is True when a WebPubSubService's Deployment has an
	// available replica. A WebPubSubService also has Ready: Available and
	// every object of the instance applied.
	ConditionAvailable = "Available"
)

// Condition reasons. They are also the reasons of the events the operator
// records.
const (
	// ReasonReady: the condition holds.
	ReasonReady = "Ready"
	// ReasonNotReady is no longer set: Ready=False carries the reason of the
	// condition that holds it back, so that `kubectl get chub -o wide` shows
	// the cause.
	//
	// Deprecated: read the reason of Ready, which is the cause.
	ReasonNotReady = "NotReady"

	// ReasonHubConflict: another, older ChatHub (the owner, named in the
	// message as namespace/name) uses the same hub on the same service
	// (endpoint or ARM resource ID; hub names compare case-insensitively).
	// This ChatHub registers nothing and runs no chat server until the
	// owner is gone. Set on ServerAvailable, EventHandlerRegistered and
	// Ready.
	ReasonHubConflict = "HubConflict"
	// ReasonObjectNotOwned: an object with the name the operator wants
	// exists and is not controlled by this ChatHub; it is left as it is.
	// The message names its kind and name.
	ReasonObjectNotOwned = "ObjectNotOwned"
	// ReasonInvalidSpec: the API server refused an object the operator
	// built from the spec (e.g. spec.server.resources with requests above
	// limits); the message is the API server's.
	ReasonInvalidSpec = "InvalidSpec"

	// ReasonServiceNotFound: the WebPubSubService named by
	// spec.webPubSub.serviceRef does not exist, or has no keys yet.
	ReasonServiceNotFound = "ServiceNotFound"
	// ReasonKeyRotated: a WebPubSubService finished a key rotation and
	// regenerated the key its rotate-key annotation named.
	ReasonKeyRotated = "KeyRotated"
	// ReasonInvalidRotateKey: the rotate-key annotation of a
	// WebPubSubService is neither primary nor secondary; nothing is rotated.
	ReasonInvalidRotateKey = "InvalidRotateKey"

	// ReasonSecretReady: the connection Secret is up to date.
	ReasonSecretReady = "SecretReady"
	// ReasonSourceSecretNotFound: the Secret named by
	// connectionStringSecretRef does not exist.
	ReasonSourceSecretNotFound = "SourceSecretNotFound"
	// ReasonSourceSecretKeyMissing: the referenced Secret lacks the key.
	ReasonSourceSecretKeyMissing = "SourceSecretKeyMissing"
	// ReasonInvalidConnectionString: the connection string cannot be parsed.
	ReasonInvalidConnectionString = "InvalidConnectionString"
	// ReasonListKeysFailed: ARM listKeys failed for an Azure source.
	ReasonListKeysFailed = "ListKeysFailed"
	// ReasonInvalidResourceID: azure.resourceID cannot be parsed.
	ReasonInvalidResourceID = "InvalidResourceID"
	// ReasonCredentialUnavailable: no Microsoft Entra credential is
	// configured for the operator.
	ReasonCredentialUnavailable = "CredentialUnavailable" //nolint:gosec // G101: a condition reason, not a credential

	// ReasonDeploymentAvailable: the Deployments have available replicas.
	ReasonDeploymentAvailable = "DeploymentAvailable"
	// ReasonDeploymentProgressing: the Deployments are rolling out.
	ReasonDeploymentProgressing = "DeploymentProgressing"
	// ReasonNATSUnavailable: fewer than a majority of a WebPubSubService's
	// managed NATS servers are ready, so its replicas cannot share hubs.
	ReasonNATSUnavailable = "NATSUnavailable"
	// ReasonScaledToZero: spec.server.replicas is 0.
	ReasonScaledToZero = "ScaledToZero"

	// ReasonRegistered: the event handler is registered.
	ReasonRegistered = "Registered"
	// ReasonManualRegistrationRequired: the source is a plain connection
	// string, so the operator cannot register, and
	// spec.eventHandler.registration is Automatic; status.eventHandlerURL is
	// the URL to register by hand, then set registration to Manual.
	ReasonManualRegistrationRequired = "ManualRegistrationRequired"
	// ReasonHandshakeFailed: the chat server did not pass the
	// abuse-protection handshake, so registering would fail.
	ReasonHandshakeFailed = "HandshakeFailed"
	// ReasonRegistrationFailed: the service refused or did not answer the
	// hub-settings request.
	ReasonRegistrationFailed = "RegistrationFailed"
	// ReasonManual: spec.eventHandler.registration is Manual; the user
	// registers the handler (status.eventHandlerURL) and the operator does
	// not check it, so EventHandlerRegistered is Unknown.
	ReasonManual = "Manual"
	// ReasonRegistrationInProgress: the service accepted the hub settings
	// and runs a long-running operation; the operator polls it
	// (status.pendingOperation).
	ReasonRegistrationInProgress = "RegistrationInProgress"
	// ReasonWaitingForSecret: registration waits for the connection Secret.
	ReasonWaitingForSecret = "WaitingForConnectionSecret"

	// ReasonUnregistered: the event handler was removed on deletion.
	ReasonUnregistered = "Unregistered"
	// ReasonUnregisterFailed: the event handler could not be removed on
	// deletion and was left behind.
	ReasonUnregisterFailed = "UnregisterFailed"
)
