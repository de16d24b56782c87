/**
 * `npm run test:faults`: tests that break real things — the built service as child processes, a
 * real PostgreSQL (TEST_DATABASE_URL) behind a TCP proxy the test cuts, SIGTERM, kill -9. One file
 * at a time (they load the machine); same transforms as jest.config.js, no embedded database.
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testRegex: ['test/faults/.*\\.fault-spec\\.ts$'],
  globalSetup: undefined,
  globalTeardown: undefined,
  testTimeout: 120_000,
  maxWorkers: 1,
};
