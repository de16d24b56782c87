import type { ProvisionStatus } from '../provisioning/provision-status';
import type { ClaimLookup } from './claims.service';

export interface RenderedPage {
  statusCode: number;
  html: string;
  headers: Record<string, string>;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** JSON for a <script> block: no `</script>`, no HTML comment openers, no line separators. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function utcText(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/**
 * The claim page for one token. Rendering only reads: the page claims nothing until the person
 * submits the form, which calls `POST /api/v1/claims/{token}` with fetch (so link scanners that
 * open the page, or prefetch it, never claim). Every interpolated value is escaped.
 */
export function renderClaimPage(lookup: ClaimLookup, token: string, nonce: string): RenderedPage {
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'x-robots-tag': 'noindex, nofollow',
    'content-security-policy':
      `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; ` +
      `base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  };
  if (!lookup.found) {
    return {
      statusCode: 404,
      headers,
      html: page(
        nonce,
        'Link not found',
        'unknown',
        `<h1>Link not found</h1>
    <p class="message">This claim link is not valid. Check that you opened the whole link, or ask the
    organization that sent it for a new one.</p>`,
      ),
    };
  }
  const { organization, role, expires_at: expiresAt, status } = lookup.preview;
  const org = escapeHtml(organization);
  if (status !== 'pending') {
    const closed: Record<Exclude<ProvisionStatus, 'pending'>, [string, string]> = {
      claimed: ['Already claimed', 'This account has already been claimed. A claim link works only once.'],
      expired: [
        'Link expired',
        `This claim link expired on <time datetime="${escapeHtml(expiresAt)}">${escapeHtml(utcText(expiresAt))}</time>. Ask ${org} for a new one.`,
      ],
      cancelled: ['Link cancelled', `${org} cancelled this claim link. Ask them for a new one if you still need access.`],
    };
    const [title, message] = closed[status];
    return {
      statusCode: 410,
      headers,
      html: page(
        nonce,
        title,
        status,
        `<h1>${escapeHtml(title)}</h1>
    <p class="message">${message}</p>`,
      ),
    };
  }

  const apiPath = `../api/v1/claims/${encodeURIComponent(token)}`;
  return {
    statusCode: 200,
    headers,
    html: page(
      nonce,
      'Claim your account',
      'pending',
      `<h1>Claim your account</h1>
    <p class="lead"><strong>${org}</strong> created an API account for you. Claim it to keep it.</p>
    <dl>
      <dt>Organization</dt><dd id="organization">${org}</dd>
      <dt>Role</dt><dd id="role">${escapeHtml(role)}</dd>
      <dt>Claim before</dt><dd><time id="expires-at" datetime="${escapeHtml(expiresAt)}">${escapeHtml(utcText(expiresAt))}</time></dd>
    </dl>
    <form id="claim-form" novalidate>
      <label for="email">Your email address</label>
      <input id="email" name="email" type="email" autocomplete="email" required maxlength="254" placeholder="you@example.com">
      <button id="claim-button" type="submit">Claim account</button>
    </form>
    <p id="result" role="status" aria-live="polite" hidden></p>`,
      `(() => {
  const api = ${jsonForScript(apiPath)};
  const form = document.getElementById('claim-form');
  const input = document.getElementById('email');
  const button = document.getElementById('claim-button');
  const result = document.getElementById('result');
  const time = document.getElementById('expires-at');
  const when = new Date(time.dateTime);
  if (!Number.isNaN(when.getTime())) time.textContent = when.toLocaleString();
  const gone = {
    claimed: 'This account has already been claimed. A claim link works only once.',
    expired: 'This claim link has expired.',
    cancelled: 'This claim link was cancelled.',
  };
  const show = (text, kind) => {
    result.textContent = text;
    result.className = kind;
    result.hidden = false;
    document.body.dataset.state = kind;
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const email = input.value.trim();
    if (!email || !input.checkValidity()) {
      show('Enter a valid email address.', 'error');
      input.focus();
      return;
    }
    button.disabled = true;
    show('Claiming…', 'working');
    try {
      const res = await fetch(api, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ email }),
        credentials: 'omit',
      });
      const body = await res.json().catch(() => ({}));
      if (res.ok) {
        form.hidden = true;
        show('Account claimed. ' + body.email + ' is yours now; its API key keeps working.', 'success');
        return;
      }
      if (res.status === 410) {
        form.hidden = true;
        show(gone[body.provision_status] || body.detail || 'This claim link can no longer be used.', 'error');
        return;
      }
      const fields = Array.isArray(body.errors) ? body.errors.map((e) => e.message).join('; ') : '';
      show(fields || body.detail || 'The claim failed (HTTP ' + res.status + ').', 'error');
    } catch (error) {
      show('Could not reach the server. Check your connection and try again.', 'error');
    }
    button.disabled = false;
  });
})();`,
    ),
  };
}

function page(nonce: string, title: string, state: string, body: string, script?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex, nofollow">
  <meta name="referrer" content="no-referrer">
  <title>${escapeHtml(title)} · Provisio</title>
  <style nonce="${nonce}">
    :root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f3f4f6; color: #111827; }
    main { width: min(28rem, calc(100vw - 2rem)); background: #fff; border-radius: 12px; padding: 2rem;
           box-shadow: 0 10px 30px rgba(0, 0, 0, .08); }
    h1 { margin: 0 0 .75rem; font-size: 1.5rem; }
    .lead, .message { line-height: 1.5; }
    dl { display: grid; grid-template-columns: auto 1fr; gap: .4rem 1rem; margin: 1.25rem 0; }
    dt { color: #6b7280; } dd { margin: 0; font-weight: 600; }
    form { display: grid; gap: .5rem; }
    [hidden] { display: none !important; }
    input { font: inherit; padding: .6rem .75rem; border: 1px solid #d1d5db; border-radius: 8px; }
    button { font: inherit; font-weight: 600; padding: .7rem; border: 0; border-radius: 8px; background: #2563eb;
             color: #fff; cursor: pointer; }
    button:disabled { opacity: .6; cursor: progress; }
    #result { margin: 1rem 0 0; padding: .75rem; border-radius: 8px; }
    #result.success { background: #dcfce7; color: #14532d; }
    #result.error { background: #fee2e2; color: #7f1d1d; }
    #result.working { background: #e0e7ff; color: #1e3a8a; }
    @media (prefers-color-scheme: dark) {
      body { background: #111827; color: #f9fafb; } main { background: #1f2937; }
      input { background: #111827; color: #f9fafb; border-color: #4b5563; }
    }
  </style>
</head>
<body data-state="${escapeHtml(state)}">
  <main>
    ${body}
  </main>${script ? `\n  <script nonce="${nonce}">\n${script}\n  </script>` : ''}
</body>
</html>
`;
}
