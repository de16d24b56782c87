/** An address split into its parts, lower-cased. */
export interface EmailAddress {
  local: string;
  domain: string;
}

export type EmailParseResult = { ok: true; address: EmailAddress } | { ok: false; reason: string };

export const MAX_LOCAL_PART_LENGTH = 64;
const MAX_ADDRESS_LENGTH = 254;
// RFC 5321/5322 dot-atom, ASCII only: quoted local parts and UTF-8 mailboxes are refused.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Validates and lower-cases an address. `requireDot` refuses single-label domains (`localhost`). */
export function parseEmailAddress(input: string, requireDot = true): EmailParseResult {
  const text = input.trim();
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return { ok: false, reason: 'must be an email address (local@domain)' };
  const local = text.slice(0, at);
  const domain = text.slice(at + 1).toLowerCase();
  if (/[^\x21-\x7e]/.test(local)) return { ok: false, reason: 'the local part must be ASCII without spaces' };
  if (local.length > MAX_LOCAL_PART_LENGTH) {
    return { ok: false, reason: `the local part must be at most ${MAX_LOCAL_PART_LENGTH} characters` };
  }
  if (!LOCAL_PART.test(local)) return { ok: false, reason: 'the local part has characters an address cannot have' };
  const labels = domain.split('.');
  if (domain.length > 253 || !labels.every((label) => DOMAIN_LABEL.test(label)) || (requireDot && labels.length < 2)) {
    return { ok: false, reason: 'the domain is not a valid domain name' };
  }
  if (text.length > MAX_ADDRESS_LENGTH) return { ok: false, reason: 'must be at most 254 characters' };
  return { ok: true, address: { local: local.toLowerCase(), domain } };
}

/**
 * Public mailbox providers: nobody at such a domain owns it, so it can never be an
 * orchestrator's domain (mapping would mint addresses there).
 */
export const PUBLIC_MAILBOX_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com',
  'googlemail.com',
  'outlook.com',
  'hotmail.com',
  'hotmail.co.uk',
  'live.com',
  'msn.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.fr',
  'ymail.com',
  'rocketmail.com',
  'aol.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'proton.me',
  'protonmail.com',
  'pm.me',
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'web.de',
  'mail.com',
  'zoho.com',
  'yandex.com',
  'yandex.ru',
  'mail.ru',
  'qq.com',
  '163.com',
  '126.com',
  'tutanota.com',
  'tuta.io',
  'fastmail.com',
  'hey.com',
  'duck.com',
]);

export function isPublicMailboxDomain(domain: string): boolean {
  return PUBLIC_MAILBOX_DOMAINS.has(domain.toLowerCase());
}
