import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/**
 * PostgreSQL (PGlite, compiled to WASM) served on a local TCP port so the ordinary `pg` driver,
 * TypeORM and its migrations talk to it exactly as to a real server. All connections share one
 * backend session, so this suits one process on a laptop, not concurrency tests.
 */
export class EmbeddedPostgres {
  private constructor(
    readonly url: string,
    readonly dataDir: string,
    private readonly db: PGlite,
    private readonly server: PGLiteSocketServer,
  ) {}

  /** `dataDir` is a folder (created if missing) or `memory://`. */
  static async start(dataDir: string, maxConnections = 32): Promise<EmbeddedPostgres> {
    const location = dataDir.startsWith('memory://') ? dataDir : resolve(dataDir);
    if (!location.startsWith('memory://')) mkdirSync(location, { recursive: true });
    const db = await PGlite.create(location);
    const port = await freePort();
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections });
    await server.start();
    return new EmbeddedPostgres(`postgres://postgres@127.0.0.1:${port}/postgres`, location, db, server);
  }

  async stop(): Promise<void> {
    await this.server.stop();
    await this.db.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}
