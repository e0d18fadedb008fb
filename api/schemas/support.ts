import { z } from 'zod';
import { SUPPORT_ROLES } from '../../domain/support';
import { plainText } from './catalog';

/** POST /admin/support-tokens: a person and what they may do. */
export const createSupportTokenBodySchema = z
  .object({
    // shown in a terminal (the CLI's list), the Web UI and the order history: no control characters
    name: plainText(200).trim().min(1),
    email: z.string().email().max(254).optional(),
    roles: z.array(z.enum(SUPPORT_ROLES)).min(1).max(SUPPORT_ROLES.length),
  })
  .strict();

export const supportTokenIdSchema = z.string().min(1).max(100);

const identity = {
  id: z.string(),
  name: z.string(),
  email: z.string().nullable(),
  roles: z.array(z.enum(SUPPORT_ROLES)),
  tokenHint: z.string().describe('the first characters of the token, to recognise it'),
  createdBy: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
};

export const supportIdentitySchema = z.looseObject(identity).meta({ id: 'SupportIdentity' });
export const createdSupportTokenSchema = z.looseObject({
  ...identity,
  token: z.string().describe('the secret (osp_…): shown in this answer only, never again'),
});

/** Who acted, as order events, the stock audit and the workflow memo record it. */
export const actorSchema = z.looseObject({ id: z.string(), name: z.string() }).meta({ id: 'SupportActor' });

export const stockChangeSchema = z.looseObject({
  sku: z.string(),
  onHandBefore: z.number().int().nullable(),
  onHandAfter: z.number().int(),
  reserved: z.number().int(),
  actor: actorSchema,
  reason: z.string(),
  at: z.string(),
});
