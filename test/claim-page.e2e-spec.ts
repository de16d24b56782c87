import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium } from 'playwright-core';
import { adminCreateUser, CreatedUser, me, startTestApp, TestApp } from './support/app';
import { describeIf } from './support/conditions';
import { freePort } from './support/net';
import { createProvision } from './support/provisions';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, 'artifacts');

const NO_BROWSER = `no browser at ${CHROMIUM} (install Debian's chromium package: apt-get install -y chromium)`;

describeIf(existsSync(CHROMIUM), NO_BROWSER, 'claim page in headless Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let guy: CreatedUser;
  let baseUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    // claim_url is built from PUBLIC_BASE_URL: the browser opens exactly the link the API hands out.
    t = await startTestApp({ PUBLIC_BASE_URL: baseUrl });
    await t.app.listen({ port, host: '127.0.0.1' });
    guy = await adminCreateUser(t, { email: 'guy@orchestrator.com', is_provisioner: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('claims an account from a real claim link, then shows "already claimed" when reopened', async () => {
    const p = await createProvision(t, guy.api_key, { role: 'admin' });
    expect(p.claim_url.startsWith(`${baseUrl}/claim/pvc_`)).toBe(true);

    const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });

    const opened = await page.goto(p.claim_url);
    expect(opened?.status()).toBe(200);
    expect(await page.title()).toContain('Claim your account');
    expect(await page.locator('#organization').textContent()).toBe('orchestrator.com');
    expect(await page.locator('#role').textContent()).toBe('admin');
    expect(await page.locator('#expires-at').getAttribute('datetime')).toBe(p.expires_at);
    // Opening the page claimed nothing.
    expect((await me(t, p.api_key)).body.status).toBe('pending_claim');

    await page.locator('#email').fill('alice@alice-startup.com');
    await page.screenshot({ path: join(ARTIFACTS, 'claim-page-form.png'), fullPage: true });
    await page.getByRole('button', { name: 'Claim account' }).click();
    const result = page.locator('#result.success');
    await result.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await result.textContent()).toContain('Account claimed');
    expect(await result.textContent()).toContain(p.email);
    expect(await page.locator('#claim-form').isVisible()).toBe(false);
    await page.screenshot({ path: join(ARTIFACTS, 'claim-page-claimed.png'), fullPage: true });
    expect(existsSync(join(ARTIFACTS, 'claim-page-claimed.png'))).toBe(true);

    // The claim went through the API: the placeholder is now an active user with the real address.
    const claimed = await me(t, p.api_key);
    expect(claimed.body).toMatchObject({ status: 'active', external_email: 'alice@alice-startup.com' });
    // No CSP violation or script error on the way (the 410 of the reopened page below is expected).
    expect(problems).toEqual([]);

    const reopened = await page.goto(p.claim_url);
    expect(reopened?.status()).toBe(410);
    expect(await page.locator('h1').textContent()).toBe('Already claimed');
    expect(await page.locator('body').textContent()).toContain('already been claimed');
    expect(await page.locator('#claim-form').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'claim-page-already-claimed.png'), fullPage: true });
    await context.close();
  });

  it('shows the API refusal on the page when the link was cancelled after it was opened', async () => {
    const p = await createProvision(t, guy.api_key);
    const context = await browser.newContext();
    const page = await context.newPage();
    expect((await page.goto(p.claim_url))?.status()).toBe(200);
    await t.http().delete(`/api/v1/provisions/${p.id}`).set('X-API-Key', guy.api_key).expect(204);

    await page.locator('#email').fill('bob@bob-startup.com');
    await page.getByRole('button', { name: 'Claim account' }).click();
    const result = page.locator('#result.error');
    await result.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await result.textContent()).toContain('cancelled');

    const unknown = await page.goto(`${baseUrl}/claim/pvc_${'x'.repeat(32)}`);
    expect(unknown?.status()).toBe(404);
    expect(await page.locator('h1').textContent()).toBe('Link not found');
    await context.close();
  });
});
