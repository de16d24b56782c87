import { escapeHtml, jsonForScript, renderClaimPage } from './claim-page';

describe('claim page rendering', () => {
  const token = 'pvc_' + 'A'.repeat(32);
  const pending = (organization: string) =>
    ({
      found: true,
      preview: { organization, role: 'member', expires_at: '2026-11-30T12:00:00.000Z', status: 'pending' },
    }) as const;

  it('escapes HTML special characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('keeps </script> out of inline JSON', () => {
    expect(jsonForScript('</script><!--')).not.toMatch(/<|>/);
    expect(JSON.parse(jsonForScript('</script>'))).toBe('</script>');
  });

  it('renders a pending provision with its organization, role, expiry, email field and claim button', () => {
    const page = renderClaimPage(pending('orchestrator.com'), token, 'n0nce');
    expect(page.statusCode).toBe(200);
    expect(page.html).toContain('orchestrator.com');
    expect(page.html).toContain('<dd id="role">member</dd>');
    expect(page.html).toContain('datetime="2026-11-30T12:00:00.000Z"');
    expect(page.html).toContain('<input id="email"');
    expect(page.html).toContain('>Claim account</button>');
    expect(page.html).toContain(`"../api/v1/claims/${token}"`);
    expect(page.headers['content-security-policy']).toContain("script-src 'nonce-n0nce'");
  });

  it('escapes whatever it interpolates', () => {
    const page = renderClaimPage(pending('<img src=x onerror=alert(1)>.com'), token, 'n');
    expect(page.html).not.toContain('<img');
    expect(page.html).toContain('&lt;img src=x onerror=alert(1)&gt;.com');
  });

  it.each([
    ['claimed', 410, 'already been claimed'],
    ['expired', 410, 'expired'],
    ['cancelled', 410, 'cancelled'],
  ] as const)('renders a %s link as %i without a form', (status, code, text) => {
    const page = renderClaimPage({ found: true, preview: { ...pending('o.com').preview, status } }, token, 'n');
    expect(page.statusCode).toBe(code);
    expect(page.html).toContain(text);
    expect(page.html).not.toContain('<form');
    expect(page.html).not.toContain('<script');
  });

  it('renders an unknown link as 404 without a form', () => {
    const page = renderClaimPage({ found: false }, token, 'n');
    expect(page.statusCode).toBe(404);
    expect(page.html).toContain('not valid');
    expect(page.html).not.toContain('<form');
  });
});
