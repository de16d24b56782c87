'use strict';
// The reference for GET /api/v1/me: a bare Fastify server doing the same work per request —
// SHA-256 of the X-API-Key header, a Map lookup, and the same JSON document the service answers.
// Reads { port, keys: { [sha256 hex]: body } } as JSON from the REFERENCE_CONFIG environment variable.
const { createHash } = require('node:crypto');
const fastify = require('fastify');

const config = JSON.parse(process.env.REFERENCE_CONFIG);
const principals = new Map(Object.entries(config.keys));
const app = fastify({ logger: false });

app.get('/api/v1/me', async (request, reply) => {
  const key = request.headers['x-api-key'];
  const principal = typeof key === 'string' ? principals.get(createHash('sha256').update(key).digest('hex')) : undefined;
  if (!principal) {
    reply.code(401).type('application/problem+json');
    return { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'The API key is not known.' };
  }
  return principal;
});

app.listen({ port: config.port, host: '127.0.0.1' }).then(() => process.stdout.write('ready\n'));
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
