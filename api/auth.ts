import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from './errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Admin and support routes: `Authorization: Bearer <ADMIN_API_TOKEN>`, compared in constant time. */
export function requireAdmin(token: string): RequestHandler {
  const expected = digest(token);
  return (req, _res, next) => {
    const header = req.get('authorization');
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match?.[1]) return next(new AppError('unauthorized', 'admin credential required'));
    if (!timingSafeEqual(digest(match[1]), expected)) return next(new AppError('forbidden', 'wrong admin credential'));
    next();
  };
}
