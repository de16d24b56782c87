import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { getMetadataArgsStorage } from 'typeorm';
import { ENTITIES } from './entities';

const ROOT = join(__dirname, '..', '..');
const SRC = join(ROOT, 'src');

/** table → owning folder (`src/users/`), read from README's "Table ownership" table. */
function ownersFromReadme(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split('### Table ownership')[1]?.split(/\n#{2,3} /)[0];
  if (!section) throw new Error('README.md has no "### Table ownership" section');
  const owners = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const folder = /^`(src\/[\w/-]+\/)`$/.exec(cells[1] ?? '')?.[1];
    if (!folder) continue;
    for (const [, table] of (cells[2] ?? '').matchAll(/`([a-z_]+)`/g)) {
      if (owners.has(table)) throw new Error(`README names two owners for ${table}`);
      owners.set(table, folder);
    }
  }
  return owners;
}

/** Entity class name → table, for the entities the application registers. */
function tablesByEntity(): Map<string, string> {
  const tables = new Map<string, string>();
  for (const args of getMetadataArgsStorage().tables) {
    const target = args.target as { name?: string };
    if (typeof args.target === 'function' && ENTITIES.includes(args.target as never) && args.name && target.name) {
      tables.set(target.name, args.name);
    }
  }
  return tables;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path.endsWith(join('database', 'migrations')) ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** The code without comments (line breaks kept, so lines still count), so prose about an `UPDATE users` is not a write. */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, '')).replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

export interface Write {
  file: string;
  line: number;
  table: string | null;
  what: string;
}

/** Every write of a table a source text makes: SQL statements, and TypeORM writes by entity. */
export function findWrites(file: string, code: string, entities: Map<string, string>): Write[] {
  const text = stripComments(code);
  const writes: Write[] = [];
  const at = (index: number) => text.slice(0, index).split('\n').length;
  const sql = /\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+"?([a-z_]+)"?/g;
  for (const m of text.matchAll(sql)) writes.push({ file, line: at(m.index), table: m[2], what: m[0] });
  const byEntity = [
    /\.(?:insert|update|delete|upsert|softDelete|restore|increment|decrement)\(\s*([A-Z]\w*)\b/g,
    /getRepository\(\s*([A-Z]\w*)\s*\)\s*\.(?:insert|update|delete|upsert|save|remove|softDelete|softRemove|increment|decrement)\(/g,
    /\.into\(\s*([A-Z]\w*)\b/g,
    /@InjectRepository\(\s*([A-Z]\w*)\s*\)/g,
  ];
  for (const pattern of byEntity) {
    for (const m of text.matchAll(pattern)) {
      const table = entities.get(m[1]);
      if (table) writes.push({ file, line: at(m.index), table, what: m[0] });
    }
  }
  // An entity write whose entity this scan cannot see (`repository.save(x)`): only in a repository.
  for (const m of text.matchAll(/\.(?:save|remove|softRemove)\(/g)) {
    if (!file.endsWith('.repository.ts')) writes.push({ file, line: at(m.index), table: null, what: m[0] });
  }
  return writes;
}

/** The writes that break ownership: a table written outside its owner's folder, or an unattributable write outside a repository. */
export function violations(writes: Write[], owners: Map<string, string>): string[] {
  return writes.flatMap((w) => {
    if (w.table === null) return [`${w.file}:${w.line}: ${w.what} outside a repository file`];
    const owner = owners.get(w.table);
    if (owner === undefined || w.file.startsWith(owner)) return [];
    return [`${w.file}:${w.line}: ${w.what} writes ${w.table}, owned by ${owner}`];
  });
}

describe('table ownership (README "Table ownership")', () => {
  const owners = ownersFromReadme();
  const entities = tablesByEntity();
  const files = sourceFiles(SRC).map((path) => ({
    file: relative(ROOT, path).split(sep).join('/'),
    code: readFileSync(path, 'utf8'),
  }));

  it('names an owner for every entity table', () => {
    expect([...entities.values()].filter((table) => !owners.has(table))).toEqual([]);
    expect(owners.size).toBeGreaterThanOrEqual(entities.size);
  });

  it('finds no table written from outside its owning module', () => {
    const writes = files.flatMap(({ file, code }) => findWrites(file, code, entities));
    // The scan sees the real writes (so an empty result below means something).
    expect(writes.filter((w) => w.table === 'api_keys').length).toBeGreaterThan(3);
    expect(violations(writes, owners)).toEqual([]);
  });

  it('flags a write from another module: SQL, TypeORM by entity, an injected repository, an unattributable save', () => {
    const code = [
      "await manager.query(`UPDATE provisions SET status = 'claimed' WHERE id = $1`, [id]);",
      'await manager.update(User, { id }, { status: "disabled" });',
      'constructor(@InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>) {}',
      'await this.repo.save(entity);',
      '// UPDATE users SET status in a comment is prose, not a write',
    ].join('\n');
    expect(violations(findWrites('src/claims/claims.service.ts', code, entities), owners)).toEqual([
      'src/claims/claims.service.ts:1: UPDATE provisions writes provisions, owned by src/provisioning/',
      'src/claims/claims.service.ts:2: .update(User writes users, owned by src/users/',
      'src/claims/claims.service.ts:3: @InjectRepository(ApiKey) writes api_keys, owned by src/api-keys/',
      'src/claims/claims.service.ts:4: .save( outside a repository file',
    ]);
  });

  it("reads no private TypeORM field (the pg pool in its driver's master field)", () => {
    const offenders = files.filter(({ code }) => /\.master\b|driver\s+as\s+unknown/.test(stripComments(code)));
    expect(offenders.map(({ file }) => file)).toEqual([]);
  });
});
