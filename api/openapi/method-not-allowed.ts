import type { RequestHandler } from 'express';
import { AppError } from '../errors';

/**
 * A method that a documented path does not declare: 405 method_not_allowed with an Allow
 * header (RFC 9110 §15.5.6), instead of the not_found of an unknown path. Runs after the
 * routers, so only requests no route took reach it.
 */
export function methodNotAllowed(paths: Record<string, Record<string, unknown>>): RequestHandler {
  const templates = Object.entries(paths).map(([url, ops]) => {
    const methods = Object.keys(ops).map((m) => m.toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD');
    const pattern = new RegExp(`^${url.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}/?$`);
    return { pattern, allow: methods.join(', ') };
  });
  return (req, res, next) => {
    const known = templates.find((t) => t.pattern.test(req.path));
    if (!known) return next();
    res.set('Allow', known.allow);
    next(new AppError('method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${known.allow}`));
  };
}
