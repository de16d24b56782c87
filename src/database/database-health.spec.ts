import { Logger } from '@nestjs/common';
import { DatabaseHealth, isDatabaseUnreachable } from './database-health';

describe('isDatabaseUnreachable', () => {
  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['pg: connection terminated', new Error('Connection terminated unexpectedly')],
    ['pg-pool: connect timeout', new Error('timeout exceeded when trying to connect')],
    [
      'admin shutdown (57P01)',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
    ['cannot connect now (57P03)', Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
    ['a class 08 error', Object.assign(new Error('connection failure'), { code: '08006' })],
    [
      'TypeORM wrapping one',
      Object.assign(new Error('Query failed'), { driverError: Object.assign(new Error('x'), { code: '57P01' }) }),
    ],
    ['an AggregateError of refusals', new AggregateError([Object.assign(new Error('r'), { code: 'ECONNREFUSED' })], '')],
  ])('recognises %s', (_name, error) => {
    expect(isDatabaseUnreachable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' })],
    ['a syntax error', Object.assign(new Error('syntax error at or near'), { code: '42601' })],
    [
      'an idle-in-transaction timeout of our own session',
      Object.assign(new Error('terminating connection due to idle-in-transaction timeout'), { code: '25P03' }),
    ],
    ['a plain error', new Error('something else')],
    ['not an error', 'Connection terminated'],
  ])('does not take %s for an outage', (_name, error) => {
    expect(isDatabaseUnreachable(error)).toBe(false);
  });
});

describe('DatabaseHealth', () => {
  const unreachable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

  async function until(what: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('logs an outage once when a probe confirms it and once when it ends, however many failures it meets', async () => {
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const logs = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      let databaseUp = false;
      let probes = 0;
      const health = new DatabaseHealth();
      health.watch(() => {
        probes++;
        return databaseUp ? Promise.resolve() : Promise.reject(unreachable);
      });
      for (let i = 0; i < 100; i++) {
        expect(health.reportFailure(unreachable)).toBe(true);
        health.countRefused();
      }
      expect(health.reachable).toBe(false);
      await until('the first probe', () => probes >= 1);
      await until('the outage line', () => errors.mock.calls.length === 1);
      expect(String(errors.mock.calls[0][0])).toMatch(/Database unreachable \(connect ECONNREFUSED/);
      databaseUp = true;
      await until('the end of the outage', () => health.reachable);
      expect(errors).toHaveBeenCalledTimes(1);
      expect(logs).toHaveBeenCalledTimes(1);
      expect(String(logs.mock.calls[0][0])).toMatch(
        /Database reachable again after [\d.]+ s; 100 request\(s\) were answered 503/,
      );
      health.stop();
    } finally {
      errors.mockRestore();
      logs.mockRestore();
    }
  });

  it('logs nothing for a lone broken connection when the database answers the probe', async () => {
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const logs = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    try {
      const health = new DatabaseHealth();
      health.watch(() => Promise.resolve());
      expect(health.reportFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
      await until('the probe', () => health.reachable);
      expect(errors).not.toHaveBeenCalled();
      expect(logs).not.toHaveBeenCalled();
    } finally {
      errors.mockRestore();
      logs.mockRestore();
      debug.mockRestore();
    }
  });

  it('leaves any other error to its caller', () => {
    const health = new DatabaseHealth();
    expect(health.reportFailure(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(health.reachable).toBe(true);
  });
});
