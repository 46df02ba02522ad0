// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

//go:build !linux

package transport

import "github.com/chathub/chathub/pubsub/hub"

// Systems without poll_linux.go read every socket with readLoop, a goroutine per socket.

// pollState is empty: no socket is polled.
type pollState struct{}

// startPolled reports that the socket needs readLoop.
func (k *Socket) startPolled(*hub.Conn) bool { return false }

// wake does nothing: readLoop meets a closed socket itself.
func (k *Socket) wake() {}

// toHandler reports false: readers are not counted here (every socket has its own).
func (k *Socket) toHandler() bool { return false }

// fromHandler does nothing.
func fromHandler(bool) {}

// touch does nothing: readLoop extends its read deadline itself.
func (k *Socket) touch() {}

// gorillaReadBuffer is the read buffer of gorilla's reader, which reads every socket here.
const gorillaReadBuffer = 512
