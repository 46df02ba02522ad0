// Makes a fixed sequence of data-plane calls with the official @azure/web-pubsub SDK, so that
// the Go compatibility test can compare each request with the one its own client sends for
// the same operation. Input (stdin, JSON): {connectionString, hub}. Prints "done" at the end.
'use strict';
const path = require('path');
const root = path.resolve(__dirname, '../../..');
const { WebPubSubServiceClient } = require(path.join(root, 'hack/npm/node_modules/@azure/web-pubsub'));

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const svc = new WebPubSubServiceClient(input.connectionString, input.hub, {
    retryOptions: { maxRetries: 0 },
    allowInsecureConnection: true,
  });
  const group = svc.group('room 1/β');
  // Keep this list in step with compatOperations in webpubsub/compat_test.go.
  await svc.sendToAll('hi', { contentType: 'text/plain', excludedConnections: ['c1', 'c2'], filter: "userId eq 'a'", messageTtlSeconds: 30 });
  await svc.sendToUser('user 1', { a: 'b' });
  await svc.sendToConnection('conn/1', Buffer.from([0, 1, 2]), { messageTtlSeconds: 300 });
  await group.sendToAll('yo', { contentType: 'text/plain', excludedConnections: ['c9'] });
  await group.addConnection('c1');
  await group.removeConnection('c1');
  await svc.removeConnectionFromAllGroups('c1');
  await group.addUser('alice');
  await group.removeUser('alice');
  await svc.removeUserFromAllGroups('alice');
  await svc.addConnectionsToGroups(['g1', 'g2'], "userId eq 'a'");
  await svc.removeConnectionsFromGroups(['g1'], "userId eq 'a'");
  await svc.closeConnection('c1', { reason: 'bye' });
  await svc.closeAllConnections({ reason: 'maintenance' });
  await group.closeAllConnections({ reason: 'r' });
  await svc.closeUserConnections('alice', { reason: 'r' });
  await svc.connectionExists('c1');
  await svc.groupExists('room 1/β');
  await svc.userExists('alice');
  await svc.grantPermission('c1', 'sendToGroup', { targetName: 'g' });
  await svc.revokePermission('c1', 'joinLeaveGroup', { targetName: 'g' });
  await svc.hasPermission('c1', 'joinLeaveGroup', { targetName: 'g' });
  const members = [];
  // withSpan wraps the paged iterator in a promise in 1.2.0.
  const pages = await group.listConnections({ maxPageSize: 50 });
  for await (const m of pages) members.push(m);
  process.stdout.write('done ' + members.length + '\n');
}

main().catch((err) => {
  process.stderr.write(`rest-calls.js: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
