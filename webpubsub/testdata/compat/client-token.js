// Prints the official @azure/web-pubsub SDK's getClientAccessToken result as JSON.
// Input (stdin, JSON): {connectionString, hub, userId, roles, groups}. The connection string
// comes on stdin so that the access key never appears in a process listing.
'use strict';
const path = require('path');
const root = path.resolve(__dirname, '../../..');
const { WebPubSubServiceClient } = require(path.join(root, 'hack/npm/node_modules/@azure/web-pubsub'));

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const client = new WebPubSubServiceClient(input.connectionString, input.hub);
  const res = await client.getClientAccessToken({
    userId: input.userId,
    roles: input.roles,
    groups: input.groups,
  });
  process.stdout.write(JSON.stringify({ token: res.token, baseUrl: res.baseUrl, url: res.url }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`client-token.js: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
