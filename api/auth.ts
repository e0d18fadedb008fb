import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Config } from '../config';
import { AppError } from './errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Admin and support routes: `Authorization: Bearer <ADMIN_API_TOKEN>`. 401 unauthorized
 * without a bearer credential, 403 forbidden with a wrong one. Both sides are hashed first,
 * so timingSafeEqual compares equal lengths and the time says nothing about the token.
 */
export function requireAdmin(credential: Pick<Config, 'adminApiToken'> | string): RequestHandler {
  const expected = digest(typeof credential === 'string' ? credential : credential.adminApiToken);
  return (req, _res, next) => {
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match?.[1]) return next(new AppError('unauthorized', 'admin credential required'));
    if (!timingSafeEqual(digest(match[1]), expected)) return next(new AppError('forbidden', 'wrong admin credential'));
    next();
  };
}
