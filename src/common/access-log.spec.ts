import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

describe('the application logger on stdout (asynchronous, bounded)', () => {
  it('loses no line at exit, even right after a burst', () => {
    // A child process logs 20,000 lines as fast as it can and exits at once: every line must reach stdout.
    const script = `
      const { createAppLogger } = require(${JSON.stringify(path.join(__dirname, 'access-log.ts'))});
      const logger = createAppLogger('info');
      for (let i = 0; i < 20000; i++) logger.info({ i }, 'burst line ' + 'x'.repeat(100));
      process.exit(0);`;
    const child = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: path.join(__dirname, '../..'),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    });
    expect(child.status).toBe(0);
    const lines = child.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(20000);
    expect(JSON.parse(lines[19999])).toMatchObject({ i: 19999, msg: expect.stringMatching(/^burst line/) });
  });

  it('bounds its buffer when stdout does not keep up: lines beyond it are dropped and counted, memory stays flat', async () => {
    // The parent does not read the child's stdout until the child has logged 100 MB: the pipe fills,
    // the child's buffer reaches its bound, and the rest is dropped.
    const script = `
      const { createAppLogger, droppedLogLines, LOG_BUFFER_MAX_BYTES } = require(${JSON.stringify(path.join(__dirname, 'access-log.ts'))});
      const logger = createAppLogger('info');
      const line = 'y'.repeat(1000);
      const before = process.memoryUsage().rss;
      for (let i = 0; i < 100000; i++) logger.info(line);
      process.stderr.write(JSON.stringify({ dropped: droppedLogLines.count, grewMb: (process.memoryUsage().rss - before) / 1048576, boundMb: LOG_BUFFER_MAX_BYTES / 1048576 }) + '\\n');`;
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: path.join(__dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pause();
    const report = await new Promise<{ dropped: number; grewMb: number; boundMb: number }>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`no report within 60 s: ${err}`)), 60_000);
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        const line = err.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        }
      });
    });
    let written = 0;
    child.stdout.on('data', (chunk: Buffer) => (written += chunk.length));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(report.dropped).toBeGreaterThan(80000);
    expect(report.grewMb).toBeLessThan(report.boundMb * 4 + 20);
    // What was kept is written out at exit: the bound, about, not the 100 MB logged.
    expect(written).toBeGreaterThan(1_000_000);
    expect(written).toBeLessThan(12 * 1024 * 1024);
  });
});
