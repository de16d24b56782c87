// The generated client (sdk/src) names the DOM's `BodyInit`. Node's fetch has the same type (from
// undici-types, which @types/node ships); declared here so the SDK compiles without the DOM lib.
type BodyInit = import('undici-types').BodyInit;
