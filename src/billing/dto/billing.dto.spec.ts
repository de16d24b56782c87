import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateChargeDto, CreateCreditDto, UsageQueryDto } from './billing.dto';

function errorsOf<T extends object>(cls: new () => T, plain: object): string[] {
  return validateSync(plainToInstance(cls, plain), { whitelist: true, forbidNonWhitelisted: true }).map((e) => e.property);
}

describe('CreateChargeDto', () => {
  it.each([1, 42, 1_000_000])('accepts units %p', (units) => {
    expect(errorsOf(CreateChargeDto, { units })).toEqual([]);
  });

  it.each([0, -1, 1.5, 1_000_001, '5', null, undefined, Number.MAX_SAFE_INTEGER + 2])('refuses units %p', (units) => {
    expect(errorsOf(CreateChargeDto, { units })).toEqual(['units']);
  });

  it('bounds the description to 500 characters', () => {
    expect(errorsOf(CreateChargeDto, { units: 1, description: 'd'.repeat(500) })).toEqual([]);
    expect(errorsOf(CreateChargeDto, { units: 1, description: 'd'.repeat(501) })).toEqual(['description']);
  });
});

describe('CreateCreditDto', () => {
  it.each([1, -1, 1_000_000_000, -1_000_000_000])('accepts amount %p', (amount) => {
    expect(errorsOf(CreateCreditDto, { domain: 'orchestrator.com', amount })).toEqual([]);
  });

  it.each([0, 2.5, 1_000_000_001, -1_000_000_001, '10', null])('refuses amount %p', (amount) => {
    expect(errorsOf(CreateCreditDto, { domain: 'orchestrator.com', amount })).toEqual(['amount']);
  });

  it.each(['orchestrator.com', 'Sub.Example.ORG', 'localhost', 'a-b.io'])('accepts domain %p', (domain) => {
    expect(errorsOf(CreateCreditDto, { domain, amount: 1 })).toEqual([]);
  });

  it.each(['', 'not a domain', '-x.com', 'x..com', 'x.com.', 'a@b.com', `${'a'.repeat(64)}.com`])(
    'refuses domain %p',
    (domain) => {
      expect(errorsOf(CreateCreditDto, { domain, amount: 1 })).toEqual(['domain']);
    },
  );
});

describe('UsageQueryDto', () => {
  it('accepts ISO 8601 instants and dates', () => {
    expect(errorsOf(UsageQueryDto, { since: '2026-11-01T00:00:00Z', until: '2026-11-23T12:00:00.123+01:00' })).toEqual([]);
    expect(errorsOf(UsageQueryDto, { since: '2026-11-01' })).toEqual([]);
  });

  it.each(['yesterday', '2026-13-01T00:00:00Z', '2026-02-30', '1700000000'])('refuses %p', (since) => {
    expect(errorsOf(UsageQueryDto, { since })).toEqual(['since']);
  });
});
