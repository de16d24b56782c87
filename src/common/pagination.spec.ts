import { isValidTimestampText } from './pagination';

describe('isValidTimestampText (cursor timestamps)', () => {
  it.each(['2026-11-23 12:38:25.102+00', '2026-11-23 12:38:25+00', '2024-02-29 23:59:59.999999-05:30', '0001-01-01 00:00:00+00'])(
    'accepts PostgreSQL timestamptz text %s',
    (text) => {
      expect(isValidTimestampText(text)).toBe(true);
    },
  );

  it.each([
    '2026-99-99 99:99:99+00',
    '2026-02-30 00:00:00+00',
    '2026-02-29 00:00:00+00',
    '0000-01-01 00:00:00+00',
    '2026-01-01 24:00:00+00',
    '2026-01-01 00:60:00+00',
    '2026-01-01 00:00:60+00',
    '2026-01-01 00:00:00+16',
    '2026-01-01T00:00:00Z',
    '',
  ])('refuses %s', (text) => {
    expect(isValidTimestampText(text)).toBe(false);
  });
});
