import { EmailDomainMapper } from './email-domain-mapper';

describe('EmailDomainMapper', () => {
  const mapper = new EmailDomainMapper();
  const map = (email: string) => mapper.map(email, 'orchestrator.com');

  it('moves the address onto the provisioner domain and keeps the original as external_email', () => {
    expect(map('alice@alice-startup.com')).toEqual({
      ok: true,
      email: 'alice@orchestrator.com',
      externalEmail: 'alice@alice-startup.com',
    });
  });

  it('lower-cases the local part and the domain', () => {
    expect(map('Alice.Smith@Alice-Startup.COM')).toMatchObject({ ok: true, email: 'alice.smith@orchestrator.com' });
  });

  it('keeps +tags', () => {
    expect(map('bob+team-a@example.org')).toMatchObject({ ok: true, email: 'bob+team-a@orchestrator.com' });
  });

  it('keeps an address already on the provisioner domain as it is', () => {
    expect(map('carol@orchestrator.com')).toMatchObject({ ok: true, email: 'carol@orchestrator.com' });
    expect(map('Carol@Orchestrator.com')).toMatchObject({ ok: true, email: 'carol@orchestrator.com' });
  });

  it('trims surrounding whitespace', () => {
    expect(map('  dave@example.org ')).toMatchObject({ ok: true, email: 'dave@orchestrator.com' });
  });

  it.each([
    ['no at sign', 'alice.example.com'],
    ['empty local part', '@example.com'],
    ['empty domain', 'alice@'],
    ['two at signs', 'a@b@example.com'],
    ['space inside', 'al ice@example.com'],
    ['leading dot', '.alice@example.com'],
    ['double dot', 'al..ice@example.com'],
    ['quoted local part', '"alice"@example.com'],
    ['domain without dot', 'alice@localhost'],
    ['domain with underscore', 'alice@exa_mple.com'],
    ['domain label starting with hyphen', 'alice@-example.com'],
    ['empty string', ''],
  ])('refuses an invalid address (%s)', (_case, email) => {
    expect(map(email).ok).toBe(false);
  });

  it('refuses a non-ASCII local part', () => {
    const result = map('jürgen@example.de');
    expect(result).toEqual({ ok: false, reason: 'the local part must be ASCII without spaces' });
  });

  it('accepts a 64-character local part and refuses 65', () => {
    expect(map(`${'a'.repeat(64)}@example.com`)).toMatchObject({ ok: true, email: `${'a'.repeat(64)}@orchestrator.com` });
    expect(map(`${'a'.repeat(65)}@example.com`)).toEqual({
      ok: false,
      reason: 'the local part must be at most 64 characters',
    });
  });
});
