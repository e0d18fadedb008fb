import { z } from 'zod';

/** Base64 (standard alphabet, padded or not), as the Temporal Web UI and CLI send payload bytes. */
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');

/** One Temporal payload in the codec-server protocol's JSON: metadata values and data are base64. */
export const codecPayloadSchema = z
  .object({
    metadata: z.record(z.string().max(256), base64).optional(),
    data: base64.optional(),
  });

/** POST /codec/encode and /codec/decode, request and answer (Temporal's remote codec protocol). */
export const codecPayloadsSchema = z.object({ payloads: z.array(codecPayloadSchema).max(10_000) });

export const emailHashBodySchema = z.object({ email: z.string().email().max(254) }).strict();

export const emailHashSchema = z
  .object({
    customerEmailHash: z.string(),
    /** The visibility query for the Web UI or `temporal workflow list --query`. */
    query: z.string(),
  });
