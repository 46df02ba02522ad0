// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package controllers

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chatv1 "github.com/chathub/chathub/api/v1"
)

// The operator never takes over an object it did not create: every apply
// function calls mustControl first thing in its CreateOrPatch mutate
// function, so an object that exists under the wanted name but is not
// controlled by the ChatHub is neither patched nor adopted (CreateOrPatch
// returns the mutate function's error before it writes anything). Its
// errors then go through applyError, which turns what the user must fix
// into a *problem:
//
//   - ObjectNotOwned: the object exists and is not controlled by the
//     ChatHub (also when the cache does not hold it and the create is
//     refused with AlreadyExists). It is retried with backoff: deleting or
//     renaming the object is not an event the controller sees.
//   - InvalidSpec: the API server refused the object (422 Invalid, 400
//     BadRequest), e.g. requests above limits. The message is the API
//     server's, which names the field and is the same at every attempt, so
//     the status is not rewritten. It waits for a change of the spec.

// mustControl returns an ObjectNotOwned problem when obj, as read by
// CreateOrPatch, exists and is not controlled by owner (a ChatHub or a
// WebPubSubService); kind names it in the message.
func mustControl(owner, obj client.Object, kind string) error {
	if obj.GetUID() == "" || metav1.IsControlledBy(obj, owner) {
		return nil
	}
	return notOwnedBy(ownerKind(owner), kind, obj.GetName())
}

func notOwnedBy(owner, kind, name string) *problem {
	return &problem{reason: chatv1.ReasonObjectNotOwned, retry: true,
		message: fmt.Sprintf("%s %s exists and is not controlled by this %s; it is left as it is: delete or rename it, or rename the %s", kind, name, owner, owner)}
}

// ownerKind names the kind of an owner for messages.
func ownerKind(owner client.Object) string {
	if _, ok := owner.(*chatv1.WebPubSubService); ok {
		return "WebPubSubService"
	}
	return "ChatHub"
}

// applyError turns the error of applying the object kind/name into a
// *problem when the user must act on it (ObjectNotOwned, InvalidSpec) and
// returns any other error as it is.
func applyError(kind, name string, err error) error { return applyErrorOf("ChatHub", kind, name, err) }

// applyErrorOf is applyError for an object whose owner is of kind owner.
func applyErrorOf(owner, kind, name string, err error) error {
	var p *problem
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return p
	case apierrors.IsAlreadyExists(err):
		return notOwnedBy(owner, kind, name)
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return &problem{reason: chatv1.ReasonInvalidSpec,
			message: fmt.Sprintf("the API server refused %s %s: %s", kind, name, apiMessage(err))}
	}
	return err
}

// apiMessage is the API server's message of err.
func apiMessage(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) && st.Status().Message != "" {
		return st.Status().Message
	}
	return err.Error()
}
