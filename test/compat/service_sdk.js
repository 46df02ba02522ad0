// @azure/web-pubsub against the PubSub service: send to all / user / group, group membership,
// close, client tokens. Clients are plain `ws` sockets with the JSON subprotocol.
"use strict";

const { WebPubSubServiceClient } = require("@azure/web-pubsub");
const WebSocket = require("ws");
const { env, step, assert, waitFor, run } = require("./lib.js");

// Client is a JSON-subprotocol WebSocket that records what it receives.
class Client {
  constructor(name) {
    this.name = name;
    this.messages = [];
    this.system = [];
    this.closed = null;
  }

  async open(svc, opts) {
    const token = await svc.getClientAccessToken(opts);
    assert(token.url.startsWith("ws://") && token.url.includes("/client/hubs/" + svc.hubName + "?access_token="), `client URL shape: ${token.url.split("?")[0]}`);
    this.ws = new WebSocket(token.url, "json.webpubsub.azure.v1");
    this.ws.on("message", (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === "system") {
        this.system.push(m);
        if (m.event === "connected") {
          this.connectionId = m.connectionId;
          this.userId = m.userId;
        }
      } else if (m.type === "message") {
        this.messages.push(m);
      }
    });
    this.ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    await waitFor(`${this.name} connected`, () => this.connectionId !== undefined);
    return this;
  }

  // next waits for the client's next message and returns it.
  async next() {
    const n = (this.cursor = (this.cursor || 0) + 1) - 1;
    await waitFor(`${this.name} message #${n}`, () => this.messages.length > n);
    return this.messages[n];
  }

  // expectText checks that the next message is the text data.
  async expectText(data) {
    const m = await this.next();
    assert(m.dataType === "text" && m.data === data, `${this.name} expected ${JSON.stringify(data)}, got ${JSON.stringify(m)}`);
  }
}

run(async () => {
  const svc = new WebPubSubServiceClient(env("CONNECTION_STRING"), env("HUB"), { allowInsecureConnection: true });

  step("client tokens and connections");
  const a = await new Client("a").open(svc, { userId: "user-a", roles: ["webpubsub.joinLeaveGroup"] });
  const b = await new Client("b").open(svc, { userId: "user-b", groups: ["from-token"] });
  const c = await new Client("c").open(svc, { userId: "user-b" });
  assert(a.userId === "user-a" && b.userId === "user-b", "connected messages carry the user ids");
  assert(await svc.connectionExists(a.connectionId), "connectionExists(a)");
  assert(!(await svc.connectionExists("no-such-connection")), "connectionExists(unknown) is false");
  assert(await svc.userExists("user-b"), "userExists(user-b)");
  assert(!(await svc.userExists("nobody")), "userExists(nobody) is false");
  assert(await svc.groupExists("from-token"), "the group from the token exists");

  step("sendToAll with JSON and text");
  await svc.sendToAll({ hello: "world" });
  for (const cl of [a, b, c]) {
    const m = await cl.next();
    assert(m.from === "server" && m.dataType === "json" && m.data.hello === "world", `${cl.name} got the JSON broadcast: ${JSON.stringify(m)}`);
  }
  await svc.sendToAll("plain text", { contentType: "text/plain" });
  for (const cl of [a, b, c]) {
    await cl.expectText("plain text");
  }

  step("sendToUser reaches every connection of that user only");
  await svc.sendToUser("user-b", "for b", { contentType: "text/plain" });
  await svc.sendToAll("marker-1", { contentType: "text/plain" });
  await a.expectText("marker-1");
  for (const cl of [b, c]) {
    await cl.expectText("for b");
    await cl.expectText("marker-1");
  }

  step("group membership");
  const room = svc.group("room");
  await room.addConnection(a.connectionId);
  await room.addUser("user-b");
  assert(await svc.groupExists("room"), "groupExists(room)");
  const members = [];
  for await (const m of await room.listConnections()) {
    members.push(m.connectionId);
  }
  assert(members.length === 3 && members.includes(a.connectionId) && members.includes(c.connectionId), `listConnections: ${members}`);
  await room.sendToAll("to room", { contentType: "text/plain" });
  for (const cl of [a, b, c]) {
    const m = await cl.next();
    assert(m.data === "to room", `${cl.name} got the group message: ${JSON.stringify(m)}`);
  }
  await room.removeConnection(a.connectionId);
  await room.sendToAll("to room without a", { contentType: "text/plain", filter: "userId ne 'nobody'" });
  await svc.sendToAll("marker-2", { contentType: "text/plain" });
  await a.expectText("marker-2");
  for (const cl of [b, c]) {
    await cl.expectText("to room without a");
    await cl.expectText("marker-2");
  }
  await room.removeUser("user-b");
  assert(!(await svc.groupExists("room")), "the empty group no longer exists");

  step("sendToAll with excluded and filter");
  await svc.sendToAll("not for a", { contentType: "text/plain", excludedConnections: [a.connectionId] });
  await svc.sendToAll("only user-a", { contentType: "text/plain", filter: "userId eq 'user-a'" });
  await svc.sendToAll("marker-3", { contentType: "text/plain" });
  await a.expectText("only user-a");
  await a.expectText("marker-3");
  for (const cl of [b, c]) {
    await cl.expectText("not for a");
    await cl.expectText("marker-3");
  }

  step("close a connection, then a user's connections");
  await svc.closeConnection(a.connectionId, { reason: "bye-a" });
  await waitFor("a closed", () => a.closed !== null);
  await waitFor("a gone", async () => !(await svc.connectionExists(a.connectionId)));
  await svc.closeUserConnections("user-b", { reason: "bye-b" });
  await waitFor("b and c closed", () => b.closed !== null && c.closed !== null);
  assert(!(await svc.userExists("user-b")), "user-b has no connection left");
});
