import { Agent } from 'node:http';
import { TestDatabase } from '../support/database';
import {
  acknowledged,
  auditDatabase,
  describeWithServer,
  freshDatabase,
  HttpLoad,
  mixedRequests,
  newAdminKey,
  Outcome,
  send,
  serviceEnv,
  setUpTenant,
  SKIP_REASON,
  summarize,
  waitFor,
  withDatabase,
} from './support/scenario';
import { ServiceProcess } from './support/service';

const GRACE_SECONDS = 10;

describeWithServer(`SIGTERM under 16-client keep-alive load${SKIP_REASON}`, () => {
  let db: TestDatabase;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await service?.stop();
    await db?.drop();
  });

  it('reports not-ready at once, answers everything in flight and on open connections, and exits 0', async () => {
    const adminKey = newAdminKey();
    // last_used_at is then written only by the flush at shutdown.
    service = await ServiceProcess.start(
      serviceEnv(db.url, adminKey, { SHUTDOWN_GRACE_SECONDS: String(GRACE_SECONDS), KEY_USAGE_FLUSH_INTERVAL_MS: '60000' }),
    );
    const tenant = await setUpTenant(service, adminKey);
    const started = Date.now();
    // A refused connection means the instance no longer accepts: the client stops (a load
    // balancer would go elsewhere). Anything else that fails is a request cut off.
    const stopAfter = (o: Outcome) => o.error === 'ECONNREFUSED';
    const load = new HttpLoad({
      port: service.port,
      clients: 16,
      maxRequestsPerClient: 20_000,
      until: started + 25_000,
      next: mixedRequests(tenant, 'drain'),
      stopAfter,
    });
    // One more keep-alive connection, open and idle at the signal, asks for readiness during the drain.
    const readinessAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ready = { kind: 'ready', method: 'GET' as const, path: '/health/ready' };
    expect((await send(readinessAgent, service.port, ready)).status).toBe(200);
    await waitFor('201s before the signal', 10_000, () => load.outcomes.filter((o) => o.status === 201).length >= 100);

    const signalledAt = Date.now();
    service.signal('SIGTERM');
    // Once an answer says the drain has begun, readiness on the open connection must be 503.
    await waitFor('an answer with Connection: close', 5000, () =>
      load.outcomes.some((o) => o.at >= signalledAt && o.headers?.connection === 'close'),
    );
    const readyDuringDrain = await send(readinessAgent, service.port, ready);
    const exit = await service.exited;
    const outcomes = await load.finish();
    const readyOutcomes = [readyDuringDrain];

    const afterSignal = outcomes.filter((o) => o.at >= signalledAt);
    const cutOff = [...outcomes, ...readyOutcomes].filter((o) => o.error !== undefined && o.error !== 'ECONNREFUSED');
    const refusedAnswers = outcomes.filter((o) => o.status !== undefined && o.status >= 500);
    const closing = afterSignal.filter((o) => o.status !== undefined && o.headers?.connection === 'close');
    console.log(
      `SIGTERM: exit ${exit.code ?? exit.signal} after ${exit.at - signalledAt} ms; ${outcomes.length} requests, ` +
        `${afterSignal.length} answered or failed after the signal, ${closing.length} answered with Connection: close; ` +
        `readiness during the drain: ${readyDuringDrain.status ?? readyDuringDrain.error} ${JSON.stringify(readyDuringDrain.body)}; ` +
        `cut off: ${JSON.stringify(summarize(cutOff))}; counts ${JSON.stringify(summarize(outcomes))}; ` +
        `service said: ${service.lines
          .filter((l) => l.json === null)
          .map((l) => l.text)
          .join(' / ')}`,
    );

    expect({ cutOff: cutOff.length, serverErrors: refusedAnswers.length }).toEqual({ cutOff: 0, serverErrors: 0 });
    expect(exit).toMatchObject({ code: 0 });
    expect(exit.at - signalledAt).toBeLessThanOrEqual((GRACE_SECONDS + 5) * 1000);
    expect(closing.length).toBeGreaterThan(0);
    expect({
      status: readyDuringDrain.status,
      type: (readyDuringDrain.body as { type?: string })?.type,
      connection: readyDuringDrain.headers?.connection,
      reusedConnection: readyDuringDrain.reusedConnection,
    }).toEqual({ status: 503, type: expect.stringMatching(/\/shutting-down$/), connection: 'close', reusedConnection: true });
    // Every client ended on a refused connection (the instance stopped accepting), none on a bound.
    expect(outcomes.filter((o) => o.error === 'ECONNREFUSED')).toHaveLength(16);

    const ack = acknowledged(outcomes);
    expect(await auditDatabase(db.url, ack)).toEqual({
      acknowledgedUsersPresent: `${ack.users.length}/${ack.users.length}`,
      acknowledgedEntriesPresent: `${ack.entries.length}/${ack.entries.length}`,
      usersWithoutKey: 0,
      poolsWhoseBalanceIsNotTheLedgerSum: [],
    });
    // What it buffered is out: last_used_at of the key the load used, and an access-log line for every answer.
    const lastUsed = await withDatabase(db.url, (c) =>
      c.query<{ last_used_at: Date | null }>(`SELECT last_used_at FROM api_keys WHERE user_id = $1`, [tenant.provisionerId]),
    );
    expect(lastUsed.rows.map((row) => row.last_used_at)).toEqual([expect.any(Date)]);
    const logged = service.lines.filter((l) => l.json?.msg === 'request completed' && l.text.includes('"url":"/api/v1/')).length;
    expect(logged).toBeGreaterThanOrEqual(outcomes.filter((o) => o.status !== undefined).length);
    // The connection checks use a fresh agent so that none of the above is reused.
    expect((await send(new Agent(), service.port, { kind: 'after', method: 'GET', path: '/health/live' })).error).toBe(
      'ECONNREFUSED',
    );
  }, 40_000); // about 3× the 7–13 s it takes on a busy 2-core machine
});
