// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package chatserver

import "github.com/chathub/chathub/webpubsub"

// DefaultEventHandler is the event handler the chat needs the service to
// call at url: every user event (chat messages) and the connected and
// disconnected system events (to announce who joins and leaves).
//
// It is the one definition of the default: RunEmbedded registers it, the
// operator fills in what a ChatHub's spec.eventHandler leaves empty from it,
// and a test in the controllers package fails when the CRD's
// +kubebuilder:default markers disagree with it.
func DefaultEventHandler(url string) webpubsub.EventHandlerSettings {
	return webpubsub.EventHandlerSettings{
		URLTemplate:      url,
		UserEventPattern: "*",
		SystemEvents:     []string{"connected", "disconnected"},
	}
}
