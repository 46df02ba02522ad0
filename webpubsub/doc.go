// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

// Package webpubsub speaks the Azure Web PubSub protocol from the application side: it
// parses connection strings, signs client access tokens and REST tokens with an access key
// (HS256 over the key's UTF-8 bytes), computes and verifies the ce-signature of upstream
// events, calls the data-plane REST API of one hub (sends, groups, permissions, connection
// management) with a token per request URL (reused for a minute), and manages hub settings through the
// ARM-shaped management API (create or update with async-operation polling, get, delete,
// listKeys) authenticated either with an access key (the PubSub service) or with Microsoft
// Entra ID via azidentity. It also serves upstream CloudEvents (connect, connected,
// disconnected and user events) through EventHandler, which refuses events whose ce-time
// is outside a replay window (EventHandlerOptions.TimeTolerance, 5 minutes by default). The same package works against the
// real Azure service and ChatHub's PubSub service; errors carry the
// HTTP status and service error code but never a key or token.
package webpubsub
