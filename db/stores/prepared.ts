import type { DbOrTx } from '../client';

/**
 * A store's hot statements, built once per database handle (drizzle builds a query's SQL on every
 * call otherwise: ~13% of the worker's busy time under checkout load, docs/performance.md) and,
 * named, parsed once per PostgreSQL connection. `build` prepares them with `sql.placeholder`s;
 * a transaction handle gets its own (built per transaction: use them on the pool's handle).
 */
export function preparedStatements<T>(build: (db: DbOrTx) => T): (db: DbOrTx) => T {
  const byHandle = new WeakMap<DbOrTx, T>();
  return (db) => {
    let statements = byHandle.get(db);
    if (!statements) {
      statements = build(db);
      byHandle.set(db, statements);
    }
    return statements;
  };
}
