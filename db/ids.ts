import { randomBytes } from 'node:crypto';

/**
 * Opaque, unguessable ids (128 random bits, base64url) with a readable prefix:
 * cart, checkout, order and refund ids are capabilities on the storefront routes.
 */
export function randomId(prefix: 'cart' | 'chk' | 'ord' | 'rfd' | 'pay' | 'cus'): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}
