/**
 * Module boundaries of src/, checked by `npm run lint:boundaries` (dependency-cruiser).
 *
 * Layers, lowest first; a module may import its own layer and the layers below it, never one above:
 *
 *   config < database < common < users, api-keys < provisioning < claims, billing < health < auth < app (src/*.ts)
 *
 * health/ sits above the features so that a readiness check may ask any of them, and none of them
 * imports it. One exception: database/ lists every entity for the DataSource (database/entities.ts,
 * used by the app and the TypeORM CLI), so it may import `*.entity.ts` files of any module.
 */
const LAYERS = [
  { name: 'config', modules: ['config'] },
  { name: 'database', modules: ['database'] },
  { name: 'common', modules: ['common'] },
  { name: 'users/api-keys', modules: ['users', 'api-keys'] },
  { name: 'provisioning', modules: ['provisioning'] },
  { name: 'claims/billing', modules: ['claims', 'billing'] },
  { name: 'health', modules: ['health'] },
  { name: 'auth', modules: ['auth'] },
];

const FEATURES = ['users', 'api-keys', 'provisioning', 'claims', 'billing', 'auth', 'health'];

const dir = (modules) => `^src/(${modules.join('|')})/`;
/** The files directly in src/ (main.ts, app.module.ts, app.factory.ts): the top, importable by nobody in src/. */
const APP = '^src/[^/]+$';

const layerRules = LAYERS.map((layer, i) => {
  const above = LAYERS.slice(i + 1).flatMap((l) => l.modules);
  return {
    name: `layer-${layer.name.replace(/\//g, '-')}`,
    comment: `${layer.modules.join(', ')} must not import a higher layer (${above.join(', ') || 'none'}) nor src/*.ts`,
    severity: 'error',
    from: { path: dir(layer.modules) },
    to: above.length
      ? {
          path: [dir(above), APP],
          // The one exception: database/ may import entity classes (its DataSource entity list).
          ...(layer.name === 'database' ? { pathNot: '\\.entity\\.ts$' } : {}),
        }
      : { path: APP },
  };
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'common-imports-no-feature',
      comment: 'src/common/ holds shared pieces: it imports no feature module',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: dir(FEATURES) },
    },
    {
      name: 'features-never-import-auth',
      comment: 'auth/ reads the metadata feature modules declare (common/auth.decorators); importing auth/ would form a circle',
      severity: 'error',
      from: { path: dir(FEATURES.filter((m) => m !== 'auth')) },
      to: { path: '^src/auth/' },
    },
    ...layerRules,
    {
      name: 'no-runtime-circular',
      comment:
        'no circle of runtime imports (type-only imports may close one): Nest would need forwardRef, and a class can be undefined when imported',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'src-not-to-test-or-bench',
      comment: 'production code never imports tests, test support or the benchmark',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'src-not-to-dev-dependency',
      comment: 'production code imports only "dependencies" of package.json (npm ci --omit=dev must still run it)',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-unlisted-package',
      comment: 'every imported package is listed in package.json',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-unresolvable',
      comment: 'every import resolves to a file or a package',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|coverage)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
