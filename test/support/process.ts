import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '..', '..');

/** The service compiled (tsc, as `npm run build` does) into a directory of its own, for real-process tests. */
export interface BuiltService {
  dir: string;
  remove(): void;
}

/**
 * Compiles src/ with tsconfig.build.json into a new temporary directory (not dist/, which a
 * developer's `npm start` may be using). Type checking is the typecheck step's job: skipped here.
 */
export async function buildService(): Promise<BuiltService> {
  const dir = mkdtempSync(join(tmpdir(), 'provisio-build-'));
  await promisify(execFile)(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      dir,
      '--noCheck',
      '--sourceMap',
      'false',
    ],
    { cwd: ROOT },
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr together, in arrival order. */
  output: string;
}

/**
 * Runs `node <build>/src/main.js` with exactly `env` (plus PATH and NODE_PATH), in an empty working
 * directory (no .env is read), and waits for it to exit. A process still running after
 * `timeoutMs` is killed and the promise rejects with its output: these tests expect start-up to stop.
 */
export async function runService(build: BuiltService, env: Record<string, string>, timeoutMs = 30_000): Promise<ProcessOutcome> {
  const cwd = mkdtempSync(join(tmpdir(), 'provisio-run-'));
  try {
    return await new Promise<ProcessOutcome>((resolvePromise, reject) => {
      const child = spawn(process.execPath, [join(build.dir, 'src/main.js')], {
        cwd,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_PATH: join(ROOT, 'node_modules'),
          DATA_DIR: join(cwd, 'data'),
          PORT: '0',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the service did not exit within ${timeoutMs} ms; its output:\n${output}`));
      }, timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolvePromise({ code, signal, output });
      });
    });
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
