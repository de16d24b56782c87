import { spawnSync } from 'node:child_process';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Whether Redis answers PING at TEST_REDIS_URL, decided synchronously (a child process with a
 * 2 s deadline) so that a test file can pick `describe` or `describe.skip` when it is loaded.
 */
export function redisReachable(url = TEST_REDIS_URL): boolean {
  const { hostname, port } = new URL(url);
  const probe = `
    const socket = require('node:net').connect(${Number(port) || 6379}, ${JSON.stringify(hostname)});
    socket.setTimeout(2000, () => process.exit(1));
    socket.on('error', () => process.exit(1));
    socket.on('connect', () => socket.write('PING\\r\\n'));
    socket.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1));`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
}

/**
 * Rate-limit windows are whole UTC minutes. A test that must stay inside one window waits until at
 * least `neededMs` of the current minute is left (never more than one minute: the next one starts).
 */
export async function withinOneWindow(neededMs = 10_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left >= neededMs) return;
  await new Promise((resolve) => setTimeout(resolve, left + 50));
}
