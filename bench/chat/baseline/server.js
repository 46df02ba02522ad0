// Node.js baseline for the chat benchmark: the Azure Web PubSub chat
// tutorial's server written with express and the official SDKs
// (@azure/web-pubsub, @azure/web-pubsub-express), doing the same job as the
// Go chat server: /negotiate, join/leave notices, and message broadcast
// with the 4,000-character limit. Modules come from hack/npm/node_modules.
//
//   PORT=8081 HUB=chat WebPubSubConnectionString='Endpoint=...;AccessKey=...;' node server.js
'use strict';

const path = require('path');
const modules = path.resolve(__dirname, '..', '..', '..', 'hack', 'npm', 'node_modules');
const load = (name) => require(path.join(modules, name));

const express = load('express');
const { WebPubSubServiceClient } = load('@azure/web-pubsub');
const { WebPubSubEventHandler } = load('@azure/web-pubsub-express');

const MAX_CHARS = 4000;
const connStr = process.env.WebPubSubConnectionString;
if (!connStr) {
  console.error('set WebPubSubConnectionString');
  process.exit(1);
}
const hub = process.env.HUB || 'chat';
const port = parseInt(process.env.PORT || '8080', 10);
const endpoint = /Endpoint=([^;]+)/i.exec(connStr)[1];

// The PubSub service speaks plain HTTP on 127.0.0.1.
const serviceClient = new WebPubSubServiceClient(connStr, hub, { allowInsecureConnection: true });
const now = () => new Date().toISOString();

const handler = new WebPubSubEventHandler(hub, {
  path: '/eventhandler',
  allowedEndpoints: [endpoint],
  onConnected: async (req) => {
    try {
      await serviceClient.sendToAll({ type: 'system', message: `${req.context.userId} joined`, time: now() });
    } catch (err) {
      console.error('broadcast failed:', err.message);
    }
  },
  onDisconnected: async (req) => {
    try {
      await serviceClient.sendToAll({ type: 'system', message: `${req.context.userId} left`, time: now() });
    } catch (err) {
      console.error('broadcast failed:', err.message);
    }
  },
  handleUserEvent: async (req, res) => {
    if (req.context.eventName !== 'message') {
      res.success();
      return;
    }
    const text = typeof req.data === 'string' ? req.data : null;
    if (text === null || text.trim() === '') {
      res.success(JSON.stringify({ type: 'error', code: 'notText', message: 'Message not sent.' }), 'json');
      return;
    }
    if (Array.from(text).length > MAX_CHARS) {
      res.success(JSON.stringify({ type: 'error', code: 'messageTooLong', message: 'Message not sent: too long.' }), 'json');
      return;
    }
    try {
      await serviceClient.sendToAll({ from: req.context.userId, message: text, time: now() });
      res.success();
    } catch (err) {
      console.error('broadcast failed:', err.message);
      res.success(JSON.stringify({ type: 'error', code: 'unavailable', message: 'Message not sent.' }), 'json');
    }
  },
});

const app = express();
app.use(handler.getMiddleware());
app.get('/negotiate', async (req, res) => {
  const id = req.query.id;
  if (typeof id !== 'string') {
    res.status(400).send('missing user id');
    return;
  }
  if (id === '' || Array.from(id).length > 64 || /[\u0000-\u001f\u007f-\u009f]/.test(id)) {
    res.status(400).send('invalid user id');
    return;
  }
  const token = await serviceClient.getClientAccessToken({ userId: id });
  res.set('Cache-Control', 'no-store').json({ url: token.url });
});

const server = app.listen(port, '127.0.0.1', () => console.log(`baseline listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
