/**
 * Conditional suites and tests, decided when the file is loaded, so jest reports what does not run
 * here as skipped (with the reason in its name) instead of as passed.
 */

/** True when the tests run on a real PostgreSQL server (TEST_DATABASE_URL), not on the embedded PGlite. */
export const onRealServer = Boolean(process.env.TEST_DATABASE_URL);

const needsServer = (reason: string) => `needs a real PostgreSQL server (TEST_DATABASE_URL): ${reason}`;

/** A `describe` that runs only when `condition` holds; otherwise it is skipped, with `reason` in its name. */
export function describeIf(condition: boolean, reason: string, name: string, fn: () => void): void {
  if (condition) describe(name, fn);
  else describe.skip(`${name} [skipped: ${reason}]`, fn);
}

/** A `describe` that runs only on a real PostgreSQL server; on the embedded PGlite it is skipped, saying why. */
export function describeOnRealServer(name: string, reason: string, fn: () => void): void {
  describeIf(onRealServer, needsServer(reason), name, fn);
}

/** An `it` that runs only on a real PostgreSQL server; on the embedded PGlite it is skipped, saying why. */
export function itOnRealServer(name: string, reason: string, fn: () => Promise<unknown>, timeout?: number): void {
  if (onRealServer) it(name, fn, timeout);
  else it.skip(`${name} [skipped: ${needsServer(reason)}]`, fn, timeout);
}
