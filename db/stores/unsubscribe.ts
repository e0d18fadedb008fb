import { createHmac, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Db } from '../client';
import { optOuts } from '../schema/notification';

/** Cart-reminder opt-outs, and the signed, expiring tokens of the unsubscribe links that record them. */

export async function optOut(db: Db, email: string): Promise<void> {
  await db.insert(optOuts).values({ email: email.toLowerCase() }).onConflictDoNothing();
}

export async function isOptedOut(db: Db, email: string): Promise<boolean> {
  const [row] = await db.select().from(optOuts).where(eq(optOuts.email, email.toLowerCase()));
  return row !== undefined;
}

const sign = (secret: string, email: string, expiresAt: number) =>
  createHmac('sha256', secret).update(`unsubscribe:v2:${email.toLowerCase()}:${expiresAt}`).digest();

/**
 * An unsubscribe token: the email, its expiry (unix seconds, base 36) and an HMAC over both,
 * so a link can be neither forged for another address nor stretched past its expiry.
 */
export function unsubscribeToken(secret: string, email: string, expiresAt: Date): string {
  const exp = Math.floor(expiresAt.getTime() / 1000);
  return `${Buffer.from(email.toLowerCase()).toString('base64url')}.${exp.toString(36)}.${sign(secret, email, exp).toString('base64url')}`;
}

export type UnsubscribeTokenCheck = { status: 'valid'; email: string } | { status: 'expired' } | { status: 'invalid' };

/**
 * What a token says: valid (and for which email), expired (signed by us, past its expiry), or
 * invalid (malformed, forged, or a link from before tokens expired, which carries no expiry).
 */
export function verifyUnsubscribeToken(secret: string, token: string, now: Date = new Date()): UnsubscribeTokenCheck {
  const [emailPart, expPart, macPart, ...rest] = token.split('.');
  if (!emailPart || !expPart || !macPart || rest.length > 0 || !/^[0-9a-z]{1,10}$/.test(expPart)) return { status: 'invalid' };
  const email = Buffer.from(emailPart, 'base64url').toString('utf8');
  const exp = parseInt(expPart, 36);
  const given = Buffer.from(macPart, 'base64url');
  const expected = sign(secret, email, exp);
  if (!email.includes('@') || given.length !== expected.length || !timingSafeEqual(given, expected)) return { status: 'invalid' };
  if (exp * 1000 <= now.getTime()) return { status: 'expired' };
  return { status: 'valid', email };
}
