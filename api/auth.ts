import { createHash, timingSafeEqual } from 'node:crypto';
import type { Express, RequestHandler, Response } from 'express';
import type { Config } from '../config';
import type { Databases } from '../db/client';
import { ADMIN_TOKEN_ACTOR, SUPPORT_ROLES, type AuthenticatedActor, type SupportRole } from '../domain/support';
import { identifySupportToken, looksLikeSupportToken } from '../usecases/support-tokens';
import { AppError } from './errors';

/**
 * Support identities at the edge. A request names its actor with `Authorization: Bearer
 * <token>`: a person's support token (`osp_…`, usecases/support-tokens.ts) or the break-glass
 * ADMIN_API_TOKEN. Routes state the role they need with `requireRole`; the actor lands in
 * `res.locals.actor` ({ id, name, roles }) for the use cases to record.
 *
 * Answers (shared/API.md): no bearer credential → 401 unauthorized; a credential that is not a
 * live one (unknown, revoked, malformed) → 403 forbidden ("a wrong admin credential"); a live
 * one without the role → 403 forbidden, details.requiredRole.
 */

export interface SupportAuthDeps {
  config: Pick<Config, 'adminApiToken' | 'mode'>;
  dbs: Pick<Databases, 'support'>;
}

type Identified = { kind: 'none' } | { kind: 'wrong' } | { kind: 'actor'; actor: AuthenticatedActor };

const digest = (s: string) => createHash('sha256').update(s).digest();
const LOCALS_KEY = 'orderlySupportAuth';

/**
 * ADMIN_API_TOKEN's roles: every role in dev and test (the README's dev token and the test
 * suite act with it), only `admin` in production — there it creates personal tokens, and
 * every action on orders, the catalog or stock is taken by a named person.
 */
export function adminTokenRoles(mode: Config['mode']): readonly SupportRole[] {
  return mode === 'production' ? ['admin'] : SUPPORT_ROLES;
}

export class SupportAuthenticator {
  private readonly adminDigest: Buffer;
  private readonly adminActor: AuthenticatedActor;

  constructor(private readonly deps: SupportAuthDeps) {
    this.adminDigest = digest(deps.config.adminApiToken);
    this.adminActor = { ...ADMIN_TOKEN_ACTOR, roles: adminTokenRoles(deps.config.mode) };
  }

  /** The bearer credential of a request, if any. */
  static bearer(header: string | undefined): string | undefined {
    return header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  }

  /** Whose credential this is. Hashed before comparing, so the time says nothing about ADMIN_API_TOKEN. */
  async identify(credential: string | undefined): Promise<Identified> {
    if (!credential) return { kind: 'none' };
    if (timingSafeEqual(digest(credential), this.adminDigest)) return { kind: 'actor', actor: this.adminActor };
    const actor = looksLikeSupportToken(credential) ? await identifySupportToken(this.deps, credential) : undefined;
    return actor ? { kind: 'actor', actor } : { kind: 'wrong' };
  }

  /** A credential that is ours to judge (a support token or ADMIN_API_TOKEN), not e.g. a customer's JWT. */
  claims(credential: string): boolean {
    return looksLikeSupportToken(credential) || timingSafeEqual(digest(credential), this.adminDigest);
  }
}

/** Makes `requireRole` and `optionalSupportActor` work on this app (createApp does it). */
export function installSupportAuth(app: Express, deps: SupportAuthDeps): SupportAuthenticator {
  const auth = new SupportAuthenticator(deps);
  app.locals[LOCALS_KEY] = auth;
  return auth;
}

function authenticatorOf(res: Response): SupportAuthenticator {
  const auth = res.app.locals[LOCALS_KEY] as SupportAuthenticator | undefined;
  if (!auth) throw new Error('installSupportAuth(app, deps) was not called on this app');
  return auth;
}

/**
 * Lets the request through when its credential carries one of `roles`; sets
 * `res.locals.actor`. 401 without a credential, 403 with a wrong one or without the role.
 */
export function requireRole(...roles: [SupportRole, ...SupportRole[]]): RequestHandler {
  return async (req, res, next) => {
    // a gate in front (e.g. on /admin) identified the actor already: one lookup per request
    const known = res.locals.actor as AuthenticatedActor | undefined;
    const who: Identified = known ? { kind: 'actor', actor: known } : await authenticatorOf(res).identify(SupportAuthenticator.bearer(req.get('authorization')));
    if (who.kind === 'none') {
      res.setHeader('WWW-Authenticate', 'Bearer realm="orderly-support"');
      return next(new AppError('unauthorized', 'a support credential is required (Authorization: Bearer <token>)'));
    }
    if (who.kind === 'wrong') return next(new AppError('forbidden', 'wrong credential: unknown or revoked token'));
    if (!roles.some((r) => who.actor.roles.includes(r))) {
      return next(new AppError('forbidden', `this needs the ${roles.join(' or ')} role`, { requiredRole: roles, roles: who.actor.roles }));
    }
    res.locals.actor = who.actor;
    next();
  };
}

/**
 * On routes open to everyone (GET /orders/:id): sets `res.locals.actor` when the request
 * carries a live support credential, and never refuses — a customer's own bearer token
 * (not `osp_…`, not ADMIN_API_TOKEN) is left alone for its own middleware.
 */
export const optionalSupportActor: RequestHandler = async (req, res, next) => {
  const credential = SupportAuthenticator.bearer(req.get('authorization'));
  const auth = authenticatorOf(res);
  if (credential && auth.claims(credential)) {
    const who = await auth.identify(credential);
    if (who.kind === 'actor') res.locals.actor = who.actor;
  }
  next();
};

/** The actor requireRole set (a route behind it only). */
export function actorOf(res: Response): AuthenticatedActor {
  const actor = res.locals.actor as AuthenticatedActor | undefined;
  if (!actor) throw new Error('no actor: the route is not behind requireRole');
  return actor;
}

/** Whether optionalSupportActor found a support person on this request (they read any order). */
export function readsAsSupport(res: Response): boolean {
  return (res.locals.actor as AuthenticatedActor | undefined)?.roles.includes('support') ?? false;
}
