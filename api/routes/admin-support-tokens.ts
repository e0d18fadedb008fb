import { Router } from 'express';
import type { SupportTokenListing } from '../../db/stores/support-tokens';
import { createSupportToken, listSupportIdentities, revokeSupportTokenById } from '../../usecases/support-tokens';
import { actorOf, requireRole } from '../auth';
import type { AppDeps } from '../deps';
import { AppError } from '../errors';
import { createSupportTokenBodySchema, supportTokenIdSchema } from '../schemas/support';
import { parse } from '../validate';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function presentIdentity(t: SupportTokenListing) {
  return { ...t, createdAt: t.createdAt.toISOString(), revokedAt: iso(t.revokedAt), lastUsedAt: iso(t.lastUsedAt) };
}

/** Per-person support tokens (role `admin`): created with the secret shown once, listed without it, revoked. */
export function adminSupportTokensRouter(deps: AppDeps): Router {
  const router = Router();
  router.use('/support-tokens', requireRole('admin'));

  router.post('/support-tokens', async (req, res) => {
    const body = parse(createSupportTokenBodySchema, req.body, 'support token');
    const { token, identity } = await createSupportToken(deps, { ...body, createdBy: actorOf(res) });
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ ...presentIdentity(identity), token });
  });

  router.get('/support-tokens', async (_req, res) => {
    res.json({ items: (await listSupportIdentities(deps)).map(presentIdentity) });
  });

  router.delete('/support-tokens/:id', async (req, res) => {
    const result = await revokeSupportTokenById(deps, parse(supportTokenIdSchema, req.params.id, 'support token id'));
    if (result.kind === 'rejected') throw new AppError(result.code, result.message, result.details);
    res.json(presentIdentity(result.identity));
  });

  return router;
}
