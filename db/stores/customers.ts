import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client';
import { customers, type Customer } from '../schema/customer';

/** Postgres unique_violation: an email taken in another case too (the index is on lower(email)). */
const UNIQUE_VIOLATION = '23505';

/** A new account, or 'email_taken' when an account has this email in any case. */
export async function createCustomer(db: DbOrTx, input: { id: string; email: string; passwordHash: string }): Promise<Customer | 'email_taken'> {
  try {
    const [row] = await db.insert(customers).values(input).returning();
    return row as Customer;
  } catch (err) {
    const code = (err as { code?: unknown; cause?: { code?: unknown } }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
    if (code === UNIQUE_VIOLATION) return 'email_taken';
    throw err;
  }
}

export async function findCustomerByEmail(db: DbOrTx, email: string): Promise<Customer | undefined> {
  const [row] = await db.select().from(customers).where(sql`lower(${customers.email}) = lower(${email})`);
  return row;
}

export async function getCustomer(db: DbOrTx, id: string): Promise<Customer | undefined> {
  const [row] = await db.select().from(customers).where(eq(customers.id, id));
  return row;
}

export async function setPasswordHash(db: DbOrTx, id: string, passwordHash: string, at: Date): Promise<void> {
  await db.update(customers).set({ passwordHash, passwordChangedAt: at }).where(eq(customers.id, id));
}
