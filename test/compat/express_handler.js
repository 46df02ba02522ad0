// @azure/web-pubsub-express receiving the PubSub service's events. The script serves the event
// handler, prints {"port":N}, then one {"event":...} line per event it receives (and per
// abuse-protection request); the Go driver registers the handler, drives a client and reads
// the lines. It runs until stdin closes.
"use strict";

const express = require("express");
const { WebPubSubEventHandler } = require("@azure/web-pubsub-express");
const { emit, env, step } = require("./lib.js");

const hub = env("HUB");
const endpoint = env("ENDPOINT");

const handler = new WebPubSubEventHandler(hub, {
  path: "/eventhandler/",
  allowedEndpoints: [endpoint],
  handleConnect: (req, res) => {
    emit({
      event: "connect",
      connectionId: req.context.connectionId,
      userId: req.context.userId || "",
      origin: req.context.origin,
      subprotocols: req.subprotocols || [],
      claimsSub: (req.claims && req.claims.sub) || [],
      query: Object.keys(req.queries || {}),
    });
    res.setState("greeting", "hello from connect");
    res.success({ userId: "express-" + (req.context.userId || "anon"), groups: ["from-connect"] });
  },
  onConnected: (req) => {
    emit({ event: "connected", connectionId: req.context.connectionId, userId: req.context.userId || "" });
  },
  handleUserEvent: (req, res) => {
    const states = req.context.states || {};
    emit({
      event: "user",
      name: req.context.eventName,
      connectionId: req.context.connectionId,
      userId: req.context.userId || "",
      dataType: req.dataType,
      data: typeof req.data === "string" ? req.data : JSON.stringify(req.data),
      greeting: states.greeting || "",
    });
    res.setState("events", (states.events || 0) + 1);
    res.success("echo:" + (typeof req.data === "string" ? req.data : JSON.stringify(req.data)), "text");
  },
  onDisconnected: (req) => {
    const states = req.context.states || {};
    emit({
      event: "disconnected",
      connectionId: req.context.connectionId,
      userId: req.context.userId || "",
      reason: req.reason || "",
      events: states.events || 0,
    });
  },
});

const app = express();
app.use((req, _res, next) => {
  if (req.method === "OPTIONS") {
    emit({ event: "validate", path: req.path, origin: req.get("webhook-request-origin") || "" });
  }
  next();
});
app.use(handler.getMiddleware());
app.use((req, res) => {
  // Anything the SDK middleware did not take is a protocol mismatch: make it visible.
  emit({ event: "unhandled", method: req.method, path: req.path, awps: req.get("ce-awpsversion") || "" });
  res.status(404).end();
});

const server = app.listen(0, "127.0.0.1", () => {
  step(`express handler for hub ${hub} on ${server.address().port}`);
  emit({ port: server.address().port });
});
process.stdin.on("data", () => {});
process.stdin.on("end", () => {
  server.close();
  process.exit(0);
});
