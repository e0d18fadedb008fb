import { and, gt, or, sql, type SQL } from 'drizzle-orm';
import { products } from '../schema/catalog';
import { searchVector } from './catalog-filters';

export type ProductSort = 'relevance' | 'price_asc' | 'price_desc' | 'newest' | 'name';

/**
 * Keyset position: the sort key of the last item, as PostgreSQL printed it (so it compares
 * exactly, microseconds and float ranks included), and its sku (the tiebreak).
 */
export interface ProductCursor {
  key: string;
  sku: string;
}

export interface SortKey {
  column: SQL;
  descending: boolean;
  /** The key as text, exact enough to compare with again. */
  text: SQL;
  /** A cursor key back as a value of the column's type. */
  param(key: string): SQL;
  /** Whether a cursor key (from a client) is one this sort printed; a bad one must not reach SQL. */
  accepts(key: string): boolean;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

function isExactTimestamp(key: string): boolean {
  const m = TIMESTAMP.exec(key);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return y >= 1 && t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}

const byName: SortKey = {
  column: sql`${products.name}`,
  descending: false,
  text: sql`${products.name}`,
  param: (key) => sql`${key}`,
  accepts: (key) => !key.includes('\u0000'),
};

export function sortKey(sort: ProductSort, q: string | undefined): SortKey {
  switch (sort) {
    case 'price_asc':
    case 'price_desc':
      return {
        column: sql`${products.priceAmount}`,
        descending: sort === 'price_desc',
        text: sql`${products.priceAmount}::text`,
        param: (key) => sql`${key}::bigint`,
        accepts: (key) => /^\d{1,18}$/.test(key),
      };
    case 'newest':
      return {
        column: sql`${products.createdAt}`,
        descending: true,
        text: sql`to_char(${products.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        param: (key) => sql`${key}::timestamptz`,
        accepts: isExactTimestamp,
      };
    case 'relevance': {
      if (!q) return byName;
      // float4 prints its shortest exact form, so the rank survives the round trip.
      const rank = sql`ts_rank(${searchVector}, plainto_tsquery('english', ${q}))`;
      return {
        column: rank,
        descending: true,
        text: sql`${rank}::text`,
        param: (key) => sql`${key}::real`,
        accepts: (key) => /^\d+(\.\d+)?(e[+-]?\d+)?$/i.test(key),
      };
    }
    case 'name':
      return byName;
  }
}

/** Whether a cursor can be used with this query (it came from the same sort). */
export function isUsableCursor(query: { sort: ProductSort; q?: string }, cursor: ProductCursor): boolean {
  return sortKey(query.sort, query.q).accepts(cursor.key) && cursor.sku.length > 0 && !cursor.sku.includes('\u0000');
}

/** The rows after the cursor in this sort's order (sku breaks ties). */
export function afterCursor(key: SortKey, cursor: ProductCursor): SQL {
  if (!key.accepts(cursor.key)) throw new Error('listProducts: a cursor of another sort (check it with isUsableCursor)');
  const at = key.param(cursor.key);
  const beyond = key.descending ? sql`${key.column} < ${at}` : sql`${key.column} > ${at}`;
  return or(beyond, and(sql`${key.column} = ${at}`, gt(products.sku, cursor.sku))) as SQL;
}
