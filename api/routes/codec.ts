import express, { Router, type RequestHandler } from 'express';
import type { Payload } from '@temporalio/common';
import type { Config } from '../../config';
import { customerEmailHash, customerEmailQuery, EncryptionCodec, UndecodablePayloadError, UnknownPayloadKeyError } from '../../temporal/codec';
import { AppError } from '../errors';
import { jsonBody, requireJsonBodies } from '../request-guards';
import { codecPayloadsSchema, emailHashBodySchema } from '../schemas/codec';
import { parse } from '../validate';

/** The support credential as a cookie, for the Web UI (it sends cookies, not headers, with "Include cross-origin credentials"). */
export const SUPPORT_COOKIE = 'orderly_support';
const COOKIE_MAX_AGE_SECONDS = 8 * 3600;
/** Temporal payloads are at most 2 MB each; a history page decodes many at once. */
const BODY_LIMIT = '16mb';

type JsonPayload = { metadata?: Record<string, string>; data?: string };

const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k !== name) continue;
    try {
      return decodeURIComponent(v.join('='));
    } catch {
      return undefined; // a malformed percent-encoding is no credential (then 401), never a 500
    }
  }
  return undefined;
}

/**
 * CORS for the Web UI's origins (CODEC_CORS_ORIGINS, default TEMPORAL_UI_URL's): the UI calls
 * the codec from the browser with `Content-Type: application/json`, `X-Namespace` and, if set up,
 * `Authorization` or cookies (credentials: include) — so a preflight comes first and the answer
 * names the origin (never `*`, which credentials forbid). Other origins get no CORS headers.
 */
function cors(origins: string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get('origin');
    res.vary('Origin');
    if (origin && allowed.has(origin)) {
      res.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': 'POST, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type, X-Namespace, Authorization',
        'Access-Control-Max-Age': '600',
      });
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

/** The cookie stands for `Authorization: Bearer <token>` when no header came (the header wins). */
const cookieCredential: RequestHandler = (req, _res, next) => {
  const token = cookie(req.get('cookie'), SUPPORT_COOKIE);
  if (token && !req.get('authorization')) req.headers.authorization = `Bearer ${token}`;
  next();
};

/** The form field of the sign-in page, as a bearer credential (the header wins). */
const formCredential: RequestHandler = (req, _res, next) => {
  const token = (req.body as { token?: unknown } | undefined)?.token;
  if (typeof token === 'string' && token.trim() && !req.get('authorization')) req.headers.authorization = `Bearer ${token.trim()}`;
  next();
};

const SIGN_IN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Orderly codec: support sign-in</title></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">
<h1>Decode payloads in the Temporal Web UI</h1>
<p>Paste your support token. This browser then keeps it in an HttpOnly cookie for this API's <code>/codec</code> routes
(8 hours), which the Web UI sends with "Include cross-origin credentials" on (docs/support.md).</p>
<form method="post" action="session"><input name="token" type="password" autocomplete="off" size="40" required>
<button type="submit">Sign in</button></form>
</body></html>`;

/**
 * Temporal's remote codec protocol (POST /codec/encode, /codec/decode: `{ payloads: [...] }`,
 * base64 bytes, `X-Namespace`), for the Web UI and `temporal --codec-endpoint`, behind the
 * support credential; plus the CustomerEmailHash of an email (support's search by email) and
 * the sign-in that sets the credential as a cookie for the Web UI.
 */
export function codecRouter(config: Pick<Config, 'privacy' | 'temporal' | 'mode'>, requireSupport: RequestHandler): Router {
  const codec = new EncryptionCodec(config.privacy.payloadKeys);
  const router = Router();
  // The edge's JSON rules (UTF-8, no NUL or lone surrogate in any string), with room for a history page of payloads.
  const json = jsonBody(BODY_LIMIT);
  router.use(cors(config.privacy.codecCorsOrigins), cookieCredential);
  // A non-empty body that is not JSON is a 415, as everywhere on the API; only the sign-in form takes a form body.
  router.use((req, res, next) => (req.method === 'POST' && req.path === '/session' ? next() : requireJsonBodies(req, res, next)));

  const namespaceOf: RequestHandler = (req, _res, next) => {
    const namespace = req.get('x-namespace');
    if (namespace && namespace !== config.temporal.namespace) {
      return next(new AppError('invalid_request', `this codec serves namespace "${config.temporal.namespace}", not "${namespace}"`));
    }
    next();
  };
  const transform = (direction: 'encode' | 'decode'): RequestHandler => async (req, res, next) => {
    try {
      const { payloads } = parse(codecPayloadsSchema, req.body, 'payloads');
      const out = await codec[direction](payloads.map(toPayload));
      res.set('Cache-Control', 'no-store').json({ payloads: out.map(toJson) });
    } catch (err) {
      if (err instanceof UnknownPayloadKeyError) return next(new AppError('payload_undecodable', err.message, { keyId: err.keyId }));
      if (err instanceof UndecodablePayloadError) return next(new AppError('payload_undecodable', err.message, { keyId: err.keyId }));
      next(err);
    }
  };
  router.post('/encode', requireSupport, namespaceOf, json, transform('encode'));
  router.post('/decode', requireSupport, namespaceOf, json, transform('decode'));

  router.post('/email-hash', requireSupport, json, (req, res) => {
    const { email } = parse(emailHashBodySchema, req.body);
    const secret = config.privacy.emailHashSecret;
    res.set('Cache-Control', 'no-store').json({ customerEmailHash: customerEmailHash(secret, email), query: customerEmailQuery(secret, email) });
  });

  router.get('/session', (_req, res) => {
    res.set({ 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; form-action 'self'" }).type('html').send(SIGN_IN_PAGE);
  });
  router.post('/session', express.urlencoded({ extended: false, limit: '4kb' }), formCredential, requireSupport, (req, res) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.get('authorization') ?? '')?.[1] ?? '';
    res.cookie(SUPPORT_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: config.mode === 'production',
      path: '/codec',
      maxAge: COOKIE_MAX_AGE_SECONDS * 1000,
    });
    res.set('Cache-Control', 'no-store').status(204).end();
  });
  router.delete('/session', (_req, res) => {
    res.clearCookie(SUPPORT_COOKIE, { path: '/codec' }).status(204).end();
  });
  return router;
}
