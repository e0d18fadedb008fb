/**
 * The OpenAPI 3.1 description of the storefront and support contract (shared/API.md),
 * served at GET /openapi.json. Keep it in step with api/routes and api/schemas.
 */
type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema) => ({ 'application/json': { schema } });
const ok = (description: string, schema: Schema) => ({ description, content: json(schema) });
const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [String(s), { description: 'error', content: json(ref('Error')) }]));
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const query = (name: string, schema: Schema) => ({ name, in: 'query', required: false, schema });
const idempotencyKey = { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } };
const bearer = [{ adminToken: [] }];
const adminProduct = {
  allOf: [{ $ref: '#/components/schemas/Product' }, { type: 'object', properties: { active: { type: 'boolean' }, version: { type: 'integer', description: 'moves with every change' } } }],
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Orderly',
    version: '0.1.0',
    description:
      'Durable checkout, refunds and cart recovery on Temporal. Money is integer minor units plus an ISO 4217 currency. ' +
      'Every non-2xx answer is { error: { code, message, details } }. ' +
      'Malformed input is refused before any route: a path or query that does not percent-decode to UTF-8 text without control characters is a 400 invalid_request, ' +
      'a non-empty body that is not JSON in UTF-8 (application/json or a +json type) a 415 unsupported_media_type, on every method.',
  },
  components: {
    securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_API_TOKEN' } },
    schemas: {
      Money: {
        type: 'object',
        required: ['amount', 'currency'],
        additionalProperties: false,
        properties: { amount: { type: 'integer', minimum: 0 }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
      },
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: {
                type: 'string',
                enum: [
                  'invalid_request', 'idempotency_key_required', 'unauthorized', 'forbidden', 'not_found', 'out_of_stock',
                  'price_changed', 'checkout_in_progress', 'inventory_conflict', 'payment_declined', 'idempotency_key_reused',
                  'cart_empty', 'refund_exceeds_captured', 'refund_exceeds_sold', 'payload_too_large', 'rate_limited', 'checkout_cancelled',
                  'checkout_failed', 'order_not_parked', 'order_not_refundable', 'unsupported_media_type', 'internal_error', 'service_unavailable',
                  'headers_too_large', 'request_timeout',
                ],
              },
              message: { type: 'string' },
              details: {},
            },
          },
        },
      },
      Product: {
        type: 'object',
        required: ['sku', 'name', 'description', 'price', 'available'],
        properties: {
          sku: { type: 'string' },
          name: { type: 'string' },
          description: { type: 'string' },
          category: { type: 'string' },
          attributes: { type: 'object' },
          price: ref('Money'),
          available: { type: 'integer' },
        },
      },
      CartLine: {
        type: 'object',
        properties: { sku: { type: 'string' }, name: { type: 'string' }, quantity: { type: 'integer' }, unitPrice: ref('Money'), lineTotal: ref('Money') },
      },
      Cart: {
        type: 'object',
        required: ['id', 'currency', 'lines', 'total', 'updatedAt'],
        properties: {
          id: { type: 'string' },
          currency: { type: 'string' },
          email: { type: 'string' },
          customerId: { type: 'string' },
          lines: { type: 'array', items: ref('CartLine') },
          total: ref('Money'),
          unavailable: { type: 'array', items: { type: 'string' }, description: 'skus in the cart that are no longer sold' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
      Checkout: {
        type: 'object',
        required: ['checkoutId', 'status', 'statusUrl'],
        properties: {
          checkoutId: { type: 'string' },
          status: { type: 'string', enum: ['pending', 'placed', 'failed'] },
          orderId: { type: 'string' },
          total: ref('Money'),
          failure: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
          step: { type: 'string', description: 'current workflow step while pending' },
          statusUrl: { type: 'string' },
        },
      },
      Order: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          status: { type: 'string', enum: ['placed', 'paid', 'fulfilled', 'partially_refunded', 'refunded', 'cancelled', 'failed', 'needs_attention'] },
          email: { type: 'string' },
          lines: { type: 'array', items: ref('CartLine') },
          total: ref('Money'),
          payment: { type: 'object', properties: { authorized: ref('Money'), captured: ref('Money'), refunded: ref('Money') } },
          events: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, at: { type: 'string', format: 'date-time' } } } },
        },
      },
      Refund: {
        type: 'object',
        properties: {
          refundId: { type: 'string' },
          orderId: { type: 'string' },
          status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
          amount: ref('Money'),
        },
      },
    },
  },
  paths: {
    '/health': {
      get: {
        summary: 'Checks PostgreSQL, Redis, Temporal and the search engine',
        description: 'Search down is `degraded` with a 200 (product search answers from PostgreSQL meanwhile); PostgreSQL, Redis or Temporal down is a 503.',
        responses: {
          '200': ok('up, or degraded with search down', {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['ok', 'degraded'] },
              checks: {
                type: 'object',
                properties: Object.fromEntries(['postgres', 'redis', 'temporal', 'search'].map((k) => [k, { type: 'string', enum: ['ok', 'down'] }])),
              },
            },
          }),
          '503': ok('PostgreSQL, Redis or Temporal is down', { type: 'object' }),
        },
      },
    },
    '/products': {
      get: {
        summary: 'Lists and searches active products (Elasticsearch; PostgreSQL full text when it is down)',
        description:
          'Full text over name, category, attributes and description (typo tolerant), filters, facets, sort and cursor paging. ' +
          'Empty parameters count as absent; unknown parameters are a 400. limit defaults to 20 (at most 100). ' +
          'available = on hand - reserved, read live; the inStock filter and facets follow the index (about a second behind). ' +
          'Answers carry ETag and Cache-Control (a matching If-None-Match gets a 304) and X-Search-Engine: elasticsearch | postgres ' +
          '(with X-Search-Degraded: true on the fallback). A cursor only works with the sort, and the engine, that issued it.',
        parameters: [
          query('q', { type: 'string', maxLength: 200 }),
          query('category', { type: 'string' }),
          query('minPrice', { type: 'integer', minimum: 0 }),
          query('maxPrice', { type: 'integer', minimum: 0 }),
          query('inStock', { type: 'string', enum: ['true', 'false'] }),
          query('sort', { type: 'string', enum: ['relevance', 'price_asc', 'price_desc', 'newest', 'name'] }),
          query('limit', { type: 'integer', minimum: 1, maximum: 100 }),
          query('cursor', { type: 'string' }),
        ],
        responses: {
          '200': ok('a page', {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: {
              items: { type: 'array', items: ref('Product') },
              nextCursor: { type: ['string', 'null'], description: 'opaque; pass it back with the same sort and search to get the next page' },
              facets: {
                type: 'object',
                description: 'category counts (without the category filter) and price buckets in minor units (without the price filter)',
                properties: {
                  category: { type: 'array', items: { type: 'object', properties: { value: { type: 'string' }, count: { type: 'integer' } } } },
                  price: { type: 'array', items: { type: 'object', properties: { from: { type: 'integer' }, to: { type: 'integer' }, count: { type: 'integer' } } } },
                },
              },
            },
          }),
          ...errors(400),
        },
      },
    },
    '/products/suggest': {
      get: {
        summary: 'Autocomplete by name',
        parameters: [{ ...query('q', { type: 'string', minLength: 1, maxLength: 100 }), required: true }],
        responses: {
          '200': ok('suggestions', {
            type: 'object',
            properties: { items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, name: { type: 'string' } } } } },
          }),
          ...errors(400),
        },
      },
    },
    '/products/{sku}': {
      get: { summary: 'One product', parameters: [pathParam('sku')], responses: { '200': ok('the product', ref('Product')), ...errors(400, 404) } },
    },
    '/carts': {
      post: {
        summary: 'Creates a cart',
        requestBody: {
          content: json({
            type: 'object',
            additionalProperties: false,
            properties: { email: { type: 'string', format: 'email' }, customerId: { type: 'string' }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
          }),
        },
        responses: { '201': ok('the cart', ref('Cart')), ...errors(400) },
      },
    },
    '/carts/{cartId}': {
      get: { summary: 'A cart, priced from the catalog now', parameters: [pathParam('cartId')], responses: { '200': ok('the cart', ref('Cart')), ...errors(400, 404) } },
    },
    '/carts/{cartId}/lines/{sku}': {
      put: {
        summary: 'Sets a line quantity (0 removes it)',
        description: 'While a checkout of the cart runs, its lines cannot change: 409 checkout_in_progress with details.checkoutId.',
        parameters: [pathParam('cartId'), pathParam('sku')],
        requestBody: {
          required: true,
          content: json({ type: 'object', required: ['quantity'], additionalProperties: false, properties: { quantity: { type: 'integer', minimum: 0 } } }),
        },
        responses: { '200': ok('the cart', ref('Cart')), ...errors(400, 404, 409, 413) },
      },
      delete: {
        summary: 'Removes a line',
        description: 'While a checkout of the cart runs: 409 checkout_in_progress with details.checkoutId.',
        parameters: [pathParam('cartId'), pathParam('sku')],
        responses: { '200': ok('the cart', ref('Cart')), ...errors(400, 404, 409) },
      },
    },
    '/checkouts': {
      post: {
        summary: 'Checks a cart out (update-with-start of the checkout workflow)',
        description:
          '201 when the order is placed within the wait, 202 while still running (poll statusUrl), or the business failure. ' +
          'Failures carry details.checkoutId; out_of_stock details.items = [{ sku, requested, available }]; ' +
          'price_changed details.lines and details.total; payment_declined details.declineCode. ' +
          'A replay with the same key and body answers the original status and body: a checkout that answered 201 keeps ' +
          'answering 201 after a later failure or cancel (its current state is at GET /checkouts/{checkoutId}).',
        parameters: [idempotencyKey],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['cartId', 'email', 'paymentToken'],
            additionalProperties: false,
            properties: {
              cartId: { type: 'string' },
              email: { type: 'string', format: 'email' },
              paymentToken: { type: 'string', pattern: '^(tok|pm)_[A-Za-z0-9_]{1,250}$' },
              customerId: { type: 'string' },
              shippingAddress: { type: 'object', additionalProperties: { type: 'string' } },
              expectedTotal: ref('Money'),
            },
          }),
        },
        responses: { '201': ok('placed', ref('Checkout')), '202': ok('pending', ref('Checkout')), ...errors(400, 402, 404, 409, 422, 502) },
      },
    },
    '/checkouts/{checkoutId}': {
      get: { summary: 'Where a checkout stands', parameters: [pathParam('checkoutId')], responses: { '200': ok('the checkout', ref('Checkout')), ...errors(404) } },
    },
    '/orders': {
      get: {
        summary: 'Support: orders of a customer',
        security: bearer,
        parameters: [query('email', { type: 'string' }), query('customerId', { type: 'string' })],
        responses: { '200': ok('orders', { type: 'object', properties: { items: { type: 'array', items: ref('Order') } } }), ...errors(400, 401, 403) },
      },
    },
    '/orders/{orderId}': {
      get: { summary: 'An order with its payment and history', parameters: [pathParam('orderId')], responses: { '200': ok('the order', ref('Order')), ...errors(404) } },
    },
    '/orders/{orderId}/refunds': {
      post: {
        summary: 'Support: refunds an order: full (neither amount nor lines: what is left), partial (amount, money only) or per line (lines, optional amount and restock); a refund workflow per request',
        description: 'The amount is reserved against what was captured and the line units are claimed against what was sold (summed over all refunds) before the gateway is called. An amount that does not fit answers 422 refund_exceeds_captured (details.refundable); a line above what is left answers 422 refund_exceeds_sold (details: [{ sku, requested, refundable }]); restock with an amount and no lines is a 400. An order whose sale was not committed and paid (status other than paid, fulfilled, partially_refunded, refunded) answers 409 order_not_refundable (details.status): support cancels a parked order instead (POST /admin/orders/{orderId}/cancel returns the money).',
        security: bearer,
        parameters: [pathParam('orderId'), idempotencyKey],
        requestBody: {
          content: json({
            type: 'object',
            required: ['reason'],
            properties: {
              amount: ref('Money'),
              lines: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } } } },
              restock: { type: 'boolean' },
              reason: { type: 'string' },
            },
          }),
        },
        responses: { '201': ok('refund', ref('Refund')), '202': ok('refund pending', ref('Refund')), ...errors(400, 401, 403, 404, 409, 422) },
      },
      get: {
        summary: 'Refunds of an order',
        parameters: [pathParam('orderId')],
        responses: { '200': ok('refunds', { type: 'object', properties: { items: { type: 'array', items: ref('Refund') } } }), ...errors(404) },
      },
    },
    '/unsubscribe': {
      get: {
        summary: 'Opts an email out of cart reminders (the signed link in every reminder)',
        parameters: [{ ...query('token', { type: 'string' }), required: true }],
        responses: { '200': ok('unsubscribed', { type: 'object', properties: { unsubscribed: { type: 'boolean' }, email: { type: 'string' } } }), ...errors(400) },
      },
    },
    '/admin/orders/{orderId}/retry': {
      post: {
        summary: 'Support: resume a checkout parked for attention (signals `retry`)',
        security: bearer,
        parameters: [pathParam('orderId')],
        responses: { '202': ok('signalled', { type: 'object' }), ...errors(401, 403, 404, 409) },
      },
    },
    '/admin/orders/{orderId}/cancel': {
      post: {
        summary: 'Support: cancel a parked checkout; compensations run (void/refund, release stock)',
        security: bearer,
        parameters: [pathParam('orderId')],
        requestBody: { required: true, content: json({ type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } }) },
        responses: { '202': ok('signalled', { type: 'object' }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    '/admin/products/{sku}': {
      put: {
        summary: 'Operations: create or update a product',
        description:
          'Replaces the product (omitted optional fields are cleared). The version moves only when something changed; the change and its ' +
          'search-outbox row commit together, and the search index has it within about a second.',
        security: bearer,
        parameters: [pathParam('sku')],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['name', 'price'],
            properties: {
              name: { type: 'string' },
              description: { type: 'string' },
              category: { type: 'string' },
              attributes: { type: 'object' },
              price: ref('Money'),
              active: { type: 'boolean' },
            },
          }),
        },
        responses: { '200': ok('the product', adminProduct), ...errors(400, 401, 403) },
      },
      delete: {
        summary: 'Operations: deactivate a product (no longer listed, suggested or sold)',
        security: bearer,
        parameters: [pathParam('sku')],
        responses: { '200': ok('the product', adminProduct), ...errors(400, 401, 403, 404) },
      },
    },
    '/admin/inventory/{sku}': {
      put: {
        summary: 'Sets counted stock',
        security: bearer,
        parameters: [pathParam('sku')],
        requestBody: { required: true, content: json({ type: 'object', required: ['onHand'], properties: { onHand: { type: 'integer', minimum: 0 } } }) },
        responses: {
          '200': ok('stock', { type: 'object', properties: { sku: { type: 'string' }, onHand: { type: 'integer' }, reserved: { type: 'integer' }, available: { type: 'integer' } } }),
          '409': {
            description: 'inventory_conflict: onHand below what is reserved; details { sku, requestedOnHand, onHand, reserved }',
            content: json(ref('Error')),
          },
          ...errors(400, 401, 403, 404),
        },
      },
    },
  },
} as const;

type DescribedOperation = { requestBody?: unknown; responses: Record<string, unknown> };

/**
 * The edge refuses malformed input for every route alike (api/request-guards.ts), so every
 * operation, including ones added later, is described with the same 400 and, when it takes
 * a body, 415 (an operation's own description of its 400 stays).
 */
function describeMalformedInput(doc: { components: Record<string, unknown>; paths: Record<string, Record<string, DescribedOperation>> }): void {
  doc.components.responses = {
    MalformedRequest: {
      description:
        'invalid_request: bad fields (details: the field errors), or a malformed request: a path or query that does not percent-decode to UTF-8 ' +
        'text without control characters, a JSON body that is not UTF-8 or holds a NUL or an unpaired surrogate (details[].field: path, query, ' +
        'headers, Idempotency-Key, (body) or the field)',
      content: json(ref('Error')),
    },
    UnsupportedMediaType: {
      description: 'unsupported_media_type: a non-empty body that is not application/json (or +json) in UTF-8',
      content: json(ref('Error')),
    },
  };
  for (const operations of Object.values(doc.paths)) {
    for (const op of Object.values(operations)) {
      op.responses['400'] ??= { $ref: '#/components/responses/MalformedRequest' };
      if (op.requestBody) op.responses['415'] ??= { $ref: '#/components/responses/UnsupportedMediaType' };
    }
  }
}
describeMalformedInput(openApiDocument as unknown as Parameters<typeof describeMalformedInput>[0]);
