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
  send,
  serviceEnv,
  setUpTenant,
  SKIP_REASON,
  summarize,
  waitFor,
} from './support/scenario';
import { ServiceProcess } from './support/service';
import { TcpProxy } from './support/tcp-proxy';

const CUT_MS = 8000;
const BACK_WITHIN_MS = 10_000;
const PINO_WARN = 40;
const PINO_ERROR = 50;

/**
 * `reset`: the server is down (connections refused at once). `blackhole`: the network is gone
 * (connections hang; the pool gives up on one after its connect timeout).
 */
describeWithServer.each(['reset', 'blackhole'] as const)(
  `database cut (%s) for ${CUT_MS / 1000} s under load${SKIP_REASON}`,
  (mode) => {
    let db: TestDatabase;
    let proxy: TcpProxy;
    let service: ServiceProcess | undefined;

    beforeAll(async () => {
      db = await freshDatabase();
      proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
    });
    afterAll(async () => {
      await service?.stop();
      await proxy?.close();
      await db?.drop();
    });

    it('answers 503 database-unavailable with Retry-After (never 500), logs the outage once, and resumes by itself', async () => {
      const adminKey = newAdminKey();
      service = await ServiceProcess.start(serviceEnv(proxy.urlFor(db.url), adminKey));
      const tenant = await setUpTenant(service, adminKey);
      const started = Date.now();
      const load = new HttpLoad({
        port: service.port,
        clients: 16,
        maxRequestsPerClient: 20_000,
        until: started + 45_000,
        next: mixedRequests(tenant, 'cut'),
        pauseAfter503Ms: 20,
      });

      await waitFor('200s and 201s before the cut', 10_000, () => load.outcomes.filter((o) => o.status === 201).length >= 50);
      const cutAt = Date.now();
      proxy.cut(mode);

      // Into the outage: readiness says so in the service's problem scheme; liveness does not care.
      const probe = new Agent({ keepAlive: false });
      await waitFor('a refusal during the cut', 10_000, () => load.outcomes.some((o) => o.at >= cutAt && (o.status ?? 0) >= 500));
      const ready = await send(probe, service.port, { kind: 'ready', method: 'GET', path: '/health/ready' });
      const live = await send(probe, service.port, { kind: 'live', method: 'GET', path: '/health/live' });

      await new Promise((r) => setTimeout(r, Math.max(0, cutAt + CUT_MS - Date.now())));
      const restoredAt = Date.now();
      proxy.restore();
      const backAt: Record<string, number> = {};
      await waitFor('a create-user, a charge and /me succeeding after the database returned', BACK_WITHIN_MS + 5000, () => {
        for (const o of load.outcomes) {
          if (o.sentAt >= restoredAt && o.status !== undefined && o.status < 300) backAt[o.spec.kind] ??= o.at - restoredAt;
        }
        return ['create-user', 'charge', 'me'].every((kind) => backAt[kind] !== undefined);
      });
      const outcomes = await load.finish();

      const during = outcomes.filter((o) => o.at >= cutAt);
      const refused = outcomes.filter((o) => o.status === 503);
      const badRefusals = refused.filter(
        (o) =>
          !String(o.headers?.['content-type']).startsWith('application/problem+json') ||
          !/\/database-unavailable$/.test(String((o.body as { type?: string })?.type)) ||
          !/^\d+$/.test(String(o.headers?.['retry-after'])),
      );
      const counts = summarize(outcomes);
      const serverErrors = outcomes.filter((o) => o.status !== undefined && o.status >= 500 && o.status !== 503);
      const failedRequests = outcomes.filter((o) => o.error !== undefined);
      const loud = service.logLinesAtLeast(PINO_WARN, cutAt);
      const errors = loud.filter((line) => (line.json?.level ?? 0) >= PINO_ERROR);
      const stackTraces = service.lines.filter((line) => line.at >= cutAt && /\n\s+at |\\n\s+at /.test(line.text));
      console.log(
        `database cut (${mode}): ${outcomes.length} requests, ${during.length} from the cut on, ${refused.length} answered 503; ` +
          `counts ${JSON.stringify(counts)}; back after the database returned: ${JSON.stringify(backAt)} ms; ` +
          `non-access-log lines at warn or above: ${loud.length}, at error: ${errors.length}, with a stack trace: ` +
          `${stackTraces.length} (${loud
            .slice(0, 4)
            .map((l) => String(l.json?.msg).split('\n')[0])
            .join(' | ')})`,
      );

      expect(refused.length).toBeGreaterThan(0);
      expect({
        serverErrors: serverErrors.length,
        badRefusals: badRefusals.length,
        failedRequests: failedRequests.length,
      }).toEqual({
        serverErrors: 0,
        badRefusals: 0,
        failedRequests: 0,
      });
      expect(errors.length).toBeLessThanOrEqual(2);
      expect(loud.length).toBeLessThanOrEqual(4);
      expect(stackTraces).toHaveLength(0);
      expect(Math.max(...Object.values(backAt))).toBeLessThanOrEqual(BACK_WITHIN_MS);
      expect({
        status: ready.status,
        type: (ready.body as { type?: string })?.type,
        contentType: ready.headers?.['content-type'],
      }).toEqual({
        status: 503,
        type: expect.stringMatching(/^https:\/\/.+\/database-unavailable$/),
        contentType: expect.stringContaining('application/problem+json'),
      });
      expect(live.status).toBe(200);

      const audit = await auditDatabase(db.url, acknowledged(outcomes));
      const ack = acknowledged(outcomes);
      expect(audit).toEqual({
        acknowledgedUsersPresent: `${ack.users.length}/${ack.users.length}`,
        acknowledgedEntriesPresent: `${ack.entries.length}/${ack.entries.length}`,
        usersWithoutKey: 0,
        poolsWhoseBalanceIsNotTheLedgerSum: [],
      });
    }, 60_000); // about 3× the 16–19 s it takes on a busy 2-core machine
  },
);
