/**
 * The OpenAPI 3.1 document served at GET /openapi.json, generated from the zod schemas the
 * routes validate with (api/schemas) and the one list of error codes (api/errors.ts): a
 * request the document calls valid is one the validation accepts.
 */
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors';
import { errorSchema } from '../schemas/responses';
import { bodySchema, targetSchema } from './json-schema';
import { ROUTES, type Route } from './routes';

type Json = Record<string, unknown>;
const json = (schema: unknown) => ({ 'application/json': { schema } });

/** Codes every operation may answer: malformed input at the edge. */
const EDGE: ErrorCode[] = ['invalid_request'];
const WITH_BODY: ErrorCode[] = ['payload_too_large', 'unsupported_media_type'];

/** The edge's answers, alike for every operation (api/request-guards.ts). */
const EDGE_RESPONSES = {
  MalformedRequest: {
    description:
      'invalid_request: bad fields (details: the field errors), or a malformed request: a path or query that does not percent-decode to UTF-8 ' +
      'text without control characters, a JSON body that is not UTF-8 or holds a NUL or an unpaired surrogate (details[].field: path, query, ' +
      'headers, Idempotency-Key, (body) or the field)',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
  UnsupportedMediaType: {
    description: 'unsupported_media_type: a non-empty body that is not application/json (or +json) in UTF-8',
    content: json({ $ref: '#/components/schemas/Error' }),
  },
};

/** Refusals that say when to come back (an open circuit breaker, Redis down or failing over, a rate limit): Retry-After, and details.retryAfterSeconds alike. */
const RETRY_AFTER_CODES: ErrorCode[] = ['payment_unavailable', 'service_unavailable', 'rate_limited'];
const RETRY_AFTER_HEADER = { description: 'seconds until the request may be tried again (payment_unavailable: the payment gateway; service_unavailable: a store such as Redis; rate_limited: the exhausted rate limit)', schema: { type: 'integer', minimum: 1 } };
/** Rate-limit headers (api/rate-limit.ts), draft-ietf-httpapi-ratelimit-headers-10; on every limited answer, documented on the 429. */
const RATE_LIMIT_HEADERS = {
  'RateLimit-Policy': { description: 'the policies the request counted against, e.g. `"ip";q=600;w=60, "checkout";q=30;w=600` (quota q requests per w seconds)', schema: { type: 'string' } },
  RateLimit: { description: 'the policy with the least left: `"checkout";r=0;t=42` (r requests remaining, t seconds until the window resets)', schema: { type: 'string' } },
};
/** Paths the rate limits leave alone: the probes (and the signed gateway webhooks, mounted before them). */
const UNLIMITED = ['/health', '/webhooks/stripe', '/codec/encode', '/codec/decode', '/codec/email-hash', '/codec/session'];
/** A customer's access token that fails verification (api/customer-auth.ts). */
const TOKEN_CODES: ErrorCode[] = ['token_expired', 'token_not_yet_valid', 'token_invalid'];

function errorResponses(codes: ErrorCode[]): Json {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => {
      if (status === 415) return ['415', { $ref: '#/components/responses/UnsupportedMediaType' }];
      if (status === 400 && list.length === 1) return ['400', { $ref: '#/components/responses/MalformedRequest' }];
      const also = status === 400 ? ' (invalid_request: see components.responses.MalformedRequest)' : '';
      const headers = list.some((c) => RETRY_AFTER_CODES.includes(c))
        ? { headers: { 'Retry-After': RETRY_AFTER_HEADER, ...(list.includes('rate_limited') ? RATE_LIMIT_HEADERS : {}) } }
        : {};
      return [String(status), { description: list.join(', ') + also, ...headers, content: json({ $ref: '#/components/schemas/Error' }) }];
    }),
  );
}

function parameters(route: Route): Json[] {
  const params: Json[] = [];
  for (const [name, schema] of Object.entries(route.path ?? {})) params.push({ name, in: 'path', required: true, schema: targetSchema(schema) });
  if (route.query) {
    const q = targetSchema(route.query);
    const required = (q.required as string[] | undefined) ?? [];
    for (const [name, schema] of Object.entries((q.properties ?? {}) as Record<string, Json>)) {
      params.push({ name, in: 'query', required: required.includes(name), schema });
    }
  }
  if (route.idempotent) params.push({ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' } });
  return params;
}

function operation(route: Route, responses: Record<string, Json>): Json {
  const customer = route.customer ? [...(route.customer === 'required' ? (['unauthorized'] as ErrorCode[]) : []), ...TOKEN_CODES] : [];
  const codes = [
    ...EDGE,
    ...(route.body ? WITH_BODY : []),
    ...(route.admin ? (['unauthorized', 'forbidden'] as ErrorCode[]) : []),
    ...customer,
    ...(route.errors ?? []),
    ...(UNLIMITED.includes(route.url) ? [] : (['rate_limited'] as ErrorCode[])),
  ];
  const needs = route.role ? `Needs role \`${route.role}\` (403 forbidden without it).` : undefined;
  const description = [needs, route.description].filter(Boolean).join(' ');
  const op: Json = {
    summary: route.summary,
    ...(description ? { description } : {}),
    ...(route.admin ? { security: [{ adminToken: [] }] } : {}),
    ...(route.role ? { 'x-required-role': route.role } : {}),
    ...(route.customer === 'required' ? { security: [{ customerToken: [] }] } : route.customer === 'optional' ? { security: [{}, { customerToken: [] }] } : {}),
    parameters: parameters(route),
    responses: { ...route.ok(responses), ...errorResponses(codes) },
  };
  if (route.body) op.requestBody = { required: route.bodyRequired ?? true, content: json(bodySchema(route.body)) };
  return op;
}

function build(): Json {
  // all answers in one conversion, so a shape with a meta id (Money, Cart…) becomes one component
  const shapes: Record<string, z.ZodType> = Object.fromEntries([...ROUTES.flatMap((r) => Object.entries(r.answers)), ['error', errorSchema]]);
  const answers = z.toJSONSchema(z.object(shapes), { io: 'output', unrepresentable: 'any' }) as Json;
  const refs = answers.properties as Record<string, Json>;
  const schemas = (answers.$defs ?? {}) as Json;
  const pointing = (doc: Json): Json => JSON.parse(JSON.stringify(doc).replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of ROUTES) (paths[route.url] ??= {})[route.method] = operation(route, refs);
  return pointing({
    openapi: '3.1.0',
    info: {
      title: 'Orderly',
      version: '0.1.0',
      description:
        'Durable checkout, refunds and cart recovery on Temporal. Money is integer minor units plus an ISO 4217 currency. ' +
        'Every non-2xx answer is { error: { code, message, details } }. A method a path does not declare is a 405 method_not_allowed with an Allow header. ' +
        'Malformed input is refused before any route: a path or query that does not percent-decode to UTF-8 text without control characters is a 400 invalid_request, ' +
        'a non-empty body that is not JSON in UTF-8 (application/json or a +json type) a 415 unsupported_media_type, a JSON string with a NUL a 400, on every method. ' +
        'Rate limits, shared by every API process (Redis): per client IP on every path but /health and the webhook, per logged-in customer, and stricter on ' +
        'POST /carts with an email and POST /checkouts; an exhausted one is a 429 rate_limited with Retry-After, RateLimit-Policy and RateLimit ' +
        '(draft-ietf-httpapi-ratelimit-headers-10). Free-text fields refuse card numbers (a 400 invalid_request naming the field).',
    },
    components: {
      securitySchemes: {
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            "A person's support token (osp_…, POST /admin/support-tokens or `npm run support-token`) with the route's role (x-required-role), " +
            'or the break-glass ADMIN_API_TOKEN (every role in dev and test, only `admin` in production). No credential: 401 unauthorized; ' +
            'an unknown or revoked one, or one without the role: 403 forbidden.',
        },
        customerToken: {
          type: 'http', scheme: 'bearer', bearerFormat: 'JWT',
          description:
            'A customer access token from POST /auth/login or /auth/refresh (EdDSA or ES256, kid in the header, 15 minutes by default). Optional on the storefront routes ' +
            '(without it: a guest); an account\'s carts, checkouts, orders and refunds answer 404 to anyone else. A token that fails verification: 401 token_expired, token_not_yet_valid or token_invalid.',
        },
      },
      schemas,
      responses: EDGE_RESPONSES,
    },
    paths,
  });
}

export const openApiDocument = build();
