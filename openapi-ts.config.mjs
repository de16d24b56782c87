// `npm run sdk`: the typed TypeScript SDK in sdk/src, generated from sdk/openapi.json (the
// document the service serves at /docs-json, written by scripts/openapi-document.js).
/** @type {import('@hey-api/openapi-ts').UserConfig} */
export default {
  input: './sdk/openapi.json',
  output: { path: 'sdk/src', clean: true },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
};
