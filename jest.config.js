/** Jest in CommonJS mode (Nest 12 packages are ESM; ts-jest and @swc/jest turn them into CommonJS). */
const esmPackages = [
  '@nestjs',
  'file-type',
  'strtok3',
  'token-types',
  '@tokenizer',
  'uint8array-extras',
  '@borewit',
  'cookie',
  'content-disposition',
  'set-cookie-parser',
  'toad-cache',
  'es-module-lexer',
  'formidable',
  'load-esm',
  '@electric-sql',
];

module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  testRegex: ['src/.*\\.spec\\.ts$', 'test/.*\\.e2e-spec\\.ts$'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: { isolatedModules: false, module: 'commonjs', moduleResolution: 'bundler' },
        astTransformers: { before: ['<rootDir>/test/support/swagger-plugin.js'] },
        diagnostics: { warnOnly: false },
      },
    ],
    '^.+\\.(m|c)?js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)`],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
