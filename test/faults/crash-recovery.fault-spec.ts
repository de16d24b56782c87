import { randomUUID } from 'node:crypto';
import { Agent } from 'node:http';
import { Client } from 'pg';
import { TestDatabase } from '../support/database';
import {
  acknowledged,
  auditDatabase,
  describeWithServer,
  DOMAIN,
  freshDatabase,
  HttpLoad,
  mixedRequests,
  newAdminKey,
  send,
  serviceEnv,
  setUpTenant,
  SKIP_REASON,
  summarize,
  waitFor,
} from './support/scenario';
import { ServiceProcess } from './support/service';
import { TcpProxy } from './support/tcp-proxy';

/** Short, so the test is: the contract's default is 30. */
const LOCK_SECONDS = 4;
/** Beyond IDEMPOTENCY_LOCK_SECONDS, for the last statement to finish and the retry to run. */
const SLACK_MS = 2500;

describeWithServer(`kill -9 under load${SKIP_REASON}`, () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let blocker: Client | undefined;
  let monitor: Client | undefined;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    // The killed instance's database connections stay open on the server's side, as when a host
    // is lost without closing its sockets: PostgreSQL keeps its sessions, and their transactions.
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) }, { holdOnClientClose: true });
  });
  afterAll(async () => {
    await blocker?.end().catch(() => undefined);
    await monitor?.end().catch(() => undefined);
    for (const service of services) await service.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('keeps every acknowledged write, half-writes nothing, and frees an in-flight Idempotency-Key within IDEMPOTENCY_LOCK_SECONDS', async () => {
    const adminKey = newAdminKey();
    const env = serviceEnv(proxy.urlFor(db.url), adminKey, { IDEMPOTENCY_LOCK_SECONDS: String(LOCK_SECONDS) });
    const first = await ServiceProcess.start(env);
    services.push(first);
    const tenant = await setUpTenant(first, adminKey);
    // A second instance on the same database (directly), where the retry will go.
    const second = await ServiceProcess.start(serviceEnv(db.url, adminKey, { IDEMPOTENCY_LOCK_SECONDS: String(LOCK_SECONDS) }));
    services.push(second);
    const started = Date.now();
    const load = new HttpLoad({
      port: first.port,
      clients: 16,
      maxRequestsPerClient: 20_000,
      until: started + 30_000,
      next: mixedRequests(tenant, 'crash'),
      stopAfter: (o) => o.error !== undefined,
    });
    await waitFor('201s before the kill', 10_000, () => load.outcomes.filter((o) => o.status === 201).length >= 100);

    // An Idempotency-Key in flight for certain: its create-user claims the key, then waits on the
    // unique email that this test's own open transaction has just inserted.
    const email = `in-flight@${DOMAIN}`;
    blocker = new Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`INSERT INTO users (email, organization_id) VALUES ($1, $2)`, [email, tenant.organizationId]);
    const key = randomUUID();
    const request = {
      kind: 'in-flight',
      method: 'POST' as const,
      path: '/api/v1/admin/create-user',
      headers: { 'x-api-key': tenant.provisionerKey, 'idempotency-key': key },
      body: { email },
    };
    const inFlight = send(new Agent(), first.port, request);
    const dbName = new URL(db.url).pathname.slice(1);
    // Its own connection: inside the blocker's transaction pg_stat_activity would be a snapshot.
    monitor = new Client({ connectionString: db.url });
    await monitor.connect();
    const waiting = async (state: string, waitEvent: string | null) => {
      const rows = await monitor!.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid() AND state = $2 AND ($3::text IS NULL OR wait_event_type = $3)
            AND query LIKE '%INSERT INTO users%'`,
        [dbName, state, waitEvent],
      );
      return rows.rows[0].n > 0;
    };
    let early: unknown;
    void inFlight.then((o) => (early = o));
    await waitFor('the in-flight create-user to wait on the email', 10_000, async () => {
      if (early) throw new Error(`the in-flight create-user was answered: ${JSON.stringify(early)}`);
      return waiting('active', 'Lock');
    });

    first.signal('SIGKILL');
    const killedAt = Date.now();
    await first.exited;
    await blocker.query('ROLLBACK');
    // The dead instance's transaction now goes on holding the key, idle: nobody will finish it.
    await waitFor('the dead session to sit idle in its transaction', 5000, () => waiting('idle in transaction', null));
    // The client retries on the other instance: the key is held until the dead session ends.
    const retry = await send(new Agent(), second.port, request, 0, 3 * (LOCK_SECONDS * 1000 + SLACK_MS));
    const outcomes = await load.finish();
    expect((await inFlight).status).toBeUndefined();
    const retriedWithin = retry.at - killedAt;
    console.log(
      `kill -9: ${outcomes.length} requests before the kill (${JSON.stringify(summarize(outcomes))}); ` +
        `the in-flight key's retry answered ${retry.status ?? retry.error} ${retriedWithin} ms after the kill ` +
        `(IDEMPOTENCY_LOCK_SECONDS=${LOCK_SECONDS})`,
    );
    expect({
      status: retry.status,
      email: (retry.body as { email?: string })?.email,
      apiKey: typeof (retry.body as { api_key?: unknown })?.api_key,
    }).toEqual({
      status: 201,
      email,
      apiKey: 'string',
    });
    expect(retry.headers?.['idempotent-replayed']).toBeUndefined();
    expect(retriedWithin).toBeLessThanOrEqual(LOCK_SECONDS * 1000 + SLACK_MS);

    const ack = acknowledged(outcomes);
    ack.users.push((retry.body as { id: string }).id);
    expect(await auditDatabase(db.url, ack)).toEqual({
      acknowledgedUsersPresent: `${ack.users.length}/${ack.users.length}`,
      acknowledgedEntriesPresent: `${ack.entries.length}/${ack.entries.length}`,
      usersWithoutKey: 0,
      poolsWhoseBalanceIsNotTheLedgerSum: [],
    });
  }, 60_000); // about 3× the 16–19 s it takes on a busy 2-core machine
});
