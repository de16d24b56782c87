import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { Problems } from './problem';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/**
 * `?limit=&cursor=` of every list. Documented explicitly: the swagger CLI plugin only reads
 * `*.dto.ts` files, so without these the lists' OpenAPI parameters lacked limit and cursor.
 */
export class PageQueryDto {
  /** How many items to return (1–200). */
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
    description: 'How many items to return (1–200, default 50).',
  })
  @IsOptional()
  // Digits only: Number() would also take `1e2`, `0x10` or ` 5`.
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value))
  @IsInt({ message: 'limit must be an integer between 1 and 200' })
  @Min(1, { message: 'limit must be an integer between 1 and 200' })
  @Max(MAX_PAGE_SIZE, { message: 'limit must be an integer between 1 and 200' })
  limit?: number;

  /** The `next_cursor` of the previous page. */
  @ApiPropertyOptional({ type: String, maxLength: 512, description: 'The `next_cursor` of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not a cursor this API returned' })
  cursor?: string;
}

/** `{ data, next_cursor }`; subclassed per item type so OpenAPI knows the items. */
export class PageDto<T> {
  data: T[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` to get the next page; null on the last page.' })
  next_cursor: string | null;
}

/** Builds a documented page class for an item DTO. */
export function PageOf<T>(item: new () => T): new () => PageDto<T> {
  class Page extends PageDto<T> {
    @ApiProperty({ type: [item] })
    declare data: T[];
  }
  Object.defineProperty(Page, 'name', { value: `${item.name.replace(/Dto$/, '')}PageDto` });
  return Page;
}

export function encodeCursor(values: string[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, length: number): string[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === length && values.every((v) => typeof v === 'string')) {
      return values;
    }
  } catch {
    // fall through to the 400 below
  }
  throw Problems.validationFailed([{ field: 'cursor', message: 'cursor is not a cursor this API returned' }]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d{1,6})?[+-](\d\d)(?::(\d\d))?$/;

/**
 * True for PostgreSQL's text of a timestamptz whose every field is in range: the regex alone let
 * `2026-99-99 99:99:99+00` through to a CAST that failed in the database (a 500 for a bad cursor).
 */
export function isValidTimestampText(text: string): boolean {
  const m = TIMESTAMP.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 8, 9].map((i) =>
    Number(m[i] ?? 0),
  );
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHours <= 15 &&
    offsetMinutes <= 59
  );
}

/**
 * Keyset pagination over `(created_at, id)`. The cursor carries PostgreSQL's own text of
 * `created_at`, so microseconds survive the round trip (a JS Date would drop them).
 */
export async function paginateByCreation<T extends ObjectLiteral & { id: string }>(
  qb: SelectQueryBuilder<T>,
  page: PageQueryDto,
  order: 'ASC' | 'DESC' = 'ASC',
): Promise<{ items: T[]; nextCursor: string | null }> {
  const alias = qb.alias;
  const limit = page.limit ?? DEFAULT_PAGE_SIZE;
  qb.addSelect(`${alias}.created_at::text`, 'page_created_at');
  if (page.cursor) {
    const [createdAt, id] = decodeCursor(page.cursor, 2);
    if (!isValidTimestampText(createdAt) || !UUID.test(id)) {
      throw Problems.validationFailed([{ field: 'cursor', message: 'cursor is not a cursor this API returned' }]);
    }
    const cmp = order === 'ASC' ? '>' : '<';
    qb.andWhere(`(${alias}.created_at, ${alias}.id) ${cmp} (CAST(:pageCreatedAt AS timestamptz), CAST(:pageId AS uuid))`, {
      pageCreatedAt: createdAt,
      pageId: id,
    });
  }
  qb.orderBy(`${alias}.created_at`, order)
    .addOrderBy(`${alias}.id`, order)
    .limit(limit + 1);
  const { entities, raw } = await qb.getRawAndEntities();
  const hasMore = entities.length > limit;
  const items = entities.slice(0, limit);
  const last = hasMore ? items.length - 1 : -1;
  const nextCursor =
    last >= 0 ? encodeCursor([(raw[last] as { page_created_at: string }).page_created_at, items[last].id]) : null;
  return { items, nextCursor };
}
