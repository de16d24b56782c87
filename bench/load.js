'use strict';
// One autocannon run, in its own process so the load generator does not share an event loop with
// anything it measures. Usage: node bench/load.js '<json spec>'; prints one JSON line.
//   spec: { url, connections, seconds, kind: 'get' | 'create_user' | 'charges', path, apiKey, tag }
const autocannon = require('autocannon');

const spec = JSON.parse(process.argv[2]);
let counter = 0;
const unique = () => `${spec.tag}-${process.pid}-${++counter}`;

function requestFor(kind) {
  const headers = { 'x-api-key': spec.apiKey };
  switch (kind) {
    case 'get':
      return { method: 'GET', path: spec.path, headers };
    case 'create_user':
      return {
        method: 'POST',
        path: spec.path,
        headers: { ...headers, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ email: `u-${unique()}@end-user.example` }) }),
      };
    case 'charges':
      return {
        method: 'POST',
        path: spec.path,
        headers: { ...headers, 'content-type': 'application/json' },
        setupRequest: (req) => ({
          ...req,
          headers: { ...req.headers, 'idempotency-key': unique() },
          body: JSON.stringify({ units: spec.units ?? 1, description: 'bench' }),
        }),
      };
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    duration: spec.seconds,
    requests: [requestFor(spec.kind)],
  },
  (error, result) => {
    if (error) {
      console.error(error);
      process.exit(1);
    }
    const ok = result['2xx'];
    process.stdout.write(
      JSON.stringify({
        rps: ok / (result.duration || spec.seconds),
        ok,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        p50_ms: result.latency.p50,
        p99_ms: result.latency.p99,
        status: result.statusCodeStats,
      }) + '\n',
    );
  },
);
