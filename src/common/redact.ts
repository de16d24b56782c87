/** Claim tokens (`pvc_…`) and API keys (`pvk_…`) replaced, so URLs that carry them can be logged. */
export function redactSecrets(text: string): string {
  return text.replace(/\b(pv[ck]_)[0-9A-Za-z]+/g, '$1[redacted]');
}
