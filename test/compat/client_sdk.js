// @azure/web-pubsub-client (default reliable JSON protocol) against the PubSub service:
// connect, join a group, send to it, send an event and get the reply, and recover after the
// socket is dropped without losing a message. The script serves its own event handler (for
// the event reply), prints {"port":N}, and waits for a line on stdin (the Go driver registers
// the handler in between).
"use strict";

const express = require("express");
const { WebPubSubServiceClient } = require("@azure/web-pubsub");
const { WebPubSubClient } = require("@azure/web-pubsub-client");
const { WebPubSubEventHandler } = require("@azure/web-pubsub-express");
const { emit, env, step, assert, waitFor, stdinLines, run } = require("./lib.js");

const hub = env("HUB");
const svc = new WebPubSubServiceClient(env("CONNECTION_STRING"), hub, { allowInsecureConnection: true });

const handlerSaw = { connected: [], disconnected: [] };
const handler = new WebPubSubEventHandler(hub, {
  path: "/eventhandler/",
  handleUserEvent: (req, res) => res.success("echo:" + req.data, "text"),
  onConnected: (req) => handlerSaw.connected.push(req.context.connectionId),
  onDisconnected: (req) => handlerSaw.disconnected.push(req.context.connectionId),
});
const app = express();
app.use(handler.getMiddleware());

run(async () => {
  const nextLine = stdinLines();
  const server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  emit({ port: server.address().port });
  await nextLine(); // the handler is registered

  const client = new WebPubSubClient({
    getClientAccessUrl: async () =>
      (await svc.getClientAccessToken({ userId: "carol", roles: ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"] })).url,
  });
  const connected = [];
  const disconnected = [];
  const groupMessages = [];
  const serverMessages = [];
  client.on("connected", (e) => connected.push(e.connectionId));
  client.on("disconnected", (e) => disconnected.push(e.message || ""));
  client.on("group-message", (e) => groupMessages.push(e.message));
  client.on("server-message", (e) => serverMessages.push(e.message));

  step("start");
  await client.start();
  await waitFor("the connected event", () => connected.length === 1);
  const connectionId = connected[0];

  step("join a group and send to it");
  await client.joinGroup("room");
  const ack = await client.sendToGroup("room", "hello room", "text");
  assert(ack && typeof ack.ackId === "number", `sendToGroup was acked: ${JSON.stringify(ack)}`);
  await waitFor("the group message", () => groupMessages.length === 1);
  assert(groupMessages[0].group === "room" && groupMessages[0].data === "hello room" && groupMessages[0].fromUserId === "carol",
    `group message: ${JSON.stringify(groupMessages[0])}`);
  await client.sendToGroup("room", { n: 1 }, "json");
  await waitFor("the JSON group message", () => groupMessages.length === 2);
  assert(groupMessages[1].dataType === "json" && groupMessages[1].data.n === 1, `JSON group message: ${JSON.stringify(groupMessages[1])}`);

  step("send an event and get the reply");
  await client.sendEvent("echo", "ping", "text");
  await waitFor("the event reply", () => serverMessages.length === 1);
  assert(serverMessages[0].dataType === "text" && serverMessages[0].data === "echo:ping", `reply: ${JSON.stringify(serverMessages[0])}`);

  step("drop the socket and keep sending");
  const ws = client._wsClient && client._wsClient._socket;
  assert(ws && typeof ws.terminate === "function", "the client exposes its ws socket (web-pubsub-client internals changed?)");
  const before = groupMessages.length;
  ws.terminate(); // a TCP drop: no close frame, like a lost network
  const total = 30;
  for (let i = 0; i < total; i++) {
    await svc.group("room").sendToAll(`m${i}`, { contentType: "text/plain" });
  }
  await waitFor(`${total} messages after the drop`, () => groupMessages.length >= before + total, 30000);
  const got = groupMessages.slice(before).map((m) => m.data);
  for (let i = 0; i < total; i++) {
    assert(got[i] === `m${i}`, `message ${i} after the drop is ${got[i]}; all: ${got}`);
  }
  assert(got.length === total, `no duplicates after recovery: got ${got.length} messages`);
  assert(connected.length === 1 && connected[0] === connectionId, `recovered the same connection, no new connected event: ${connected}`);
  assert(disconnected.length === 0, `no disconnected event during recovery: ${disconnected}`);

  step("the recovered connection still sends and receives events");
  await client.sendToGroup("room", "after recovery", "text");
  await waitFor("the message after recovery", () => groupMessages.length === before + total + 1);
  await client.sendEvent("echo", "again", "text");
  await waitFor("the second reply", () => serverMessages.length === 2);
  assert(serverMessages[1].data === "echo:again", `second reply: ${JSON.stringify(serverMessages[1])}`);

  // The service reported one connected event and, after stop, one disconnected event: the
  // recovery was invisible to the server side too.
  client.stop();
  await waitFor("the disconnected event at the handler", () => handlerSaw.disconnected.length === 1);
  assert(handlerSaw.connected.length === 1 && handlerSaw.connected[0] === connectionId && handlerSaw.disconnected[0] === connectionId,
    `handler saw connected ${handlerSaw.connected} and disconnected ${handlerSaw.disconnected}, want ${connectionId} once each`);
  server.close();
});
