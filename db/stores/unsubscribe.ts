import { createHmac, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../client';
import { optOuts } from '../schema/notification';

/** Cart-reminder opt-outs, and the signed tokens of the unsubscribe links that record them. */

export async function optOut(db: Db, email: string): Promise<void> {
  await db.insert(optOuts).values({ email: email.toLowerCase() }).onConflictDoNothing();
}

export async function isOptedOut(db: Db, email: string): Promise<boolean> {
  const [row] = await db.select().from(optOuts).where(eq(optOuts.email, email.toLowerCase()));
  return row !== undefined;
}

const sign = (secret: string, email: string) => createHmac('sha256', secret).update(`unsubscribe:${email.toLowerCase()}`).digest();

/** An unsubscribe token: the email and an HMAC of it, so a link cannot be forged for another address. */
export function unsubscribeToken(secret: string, email: string): string {
  return `${Buffer.from(email.toLowerCase()).toString('base64url')}.${sign(secret, email).toString('base64url')}`;
}

/** The email a token was made for, or undefined when it is malformed or forged. */
export function verifyUnsubscribeToken(secret: string, token: string): string | undefined {
  const [emailPart, macPart, ...rest] = token.split('.');
  if (!emailPart || !macPart || rest.length > 0) return undefined;
  const email = Buffer.from(emailPart, 'base64url').toString('utf8');
  const given = Buffer.from(macPart, 'base64url');
  const expected = sign(secret, email);
  if (!email.includes('@') || given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return email;
}
