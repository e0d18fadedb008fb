import { z } from 'zod';
import type { ErrorCode } from '../errors';
import { cartIdSchema, createCartBodySchema, setLineBodySchema } from '../schemas/carts';
import { codecPayloadsSchema, emailHashBodySchema, emailHashSchema } from '../schemas/codec';
import { deactivateProductBodySchema, productBodySchema, productListQuerySchema, recommendationsQuerySchema, setInventoryBodySchema, skuSchema, suggestQuerySchema } from '../schemas/catalog';
import { checkoutBodySchema, localGatewayStepSchema } from '../schemas/checkouts';
import { cancelBodySchema, checkoutIdSchema, orderIdSchema, ordersQuerySchema, retryBodySchema, unsubscribeQuerySchema, unsubscribeTokenSchema } from '../schemas/orders';
import { refundBodySchema } from '../schemas/refunds';
import { changePasswordBodySchema, customerSchema, loginBodySchema, meOrdersQuerySchema, refreshBodySchema, registerBodySchema, tokenPairSchema } from '../schemas/customers';
import { webhookEventSchema, webhookReceiptSchema } from '../schemas/webhooks';
import * as out from '../schemas/responses';
import type { SupportRole } from '../../domain/support';
import { createSupportTokenBodySchema, createdSupportTokenSchema, stockChangeSchema, supportIdentitySchema, supportTokenIdSchema } from '../schemas/support';

type Json = Record<string, unknown>;

/** One operation: its schemas, its answers and the error codes of its own (the edge's are added). */
export interface Route {
  method: 'get' | 'post' | 'put' | 'delete';
  url: string;
  summary: string;
  description?: string;
  admin?: boolean;
  /** The support role an admin route needs (api/auth.ts requireRole): 403 forbidden without it. */
  role?: SupportRole;
  /**
   * A customer's access token (Authorization: Bearer <JWT>, api/customer-auth.ts): 'optional' on
   * the storefront routes (absent: a guest), 'required' on /me.
   */
  customer?: 'optional' | 'required';
  idempotent?: boolean;
  path?: Record<string, z.ZodType>;
  query?: z.ZodType;
  body?: z.ZodType;
  bodyRequired?: boolean;
  /** Response shapes by a unique name, converted together (shared ones become components). */
  answers: Record<string, z.ZodType>;
  ok(refs: Record<string, Json>): Record<string, Json>;
  errors?: ErrorCode[];
}

const answer = (description: string, schema: Json | undefined) => ({ description, content: { 'application/json': { schema } } });
const htmlPage = (description: string) => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
/** The largest quantity the line schema takes is configuration; the document states the default. */
const MAX_QUANTITY_PER_LINE = 100; // CART_MAX_QUANTITY_PER_LINE's default (config.ts)

export const ROUTES: Route[] = [
  {
    method: 'get', url: '/health', summary: 'Checks PostgreSQL, Redis, Temporal and the search engine, and shows the circuit breakers',
    description:
      'Search down is `degraded` with a 200 (product search answers from PostgreSQL meanwhile); PostgreSQL, Redis or Temporal down is a 503. ' +
      '`breakers` has each circuit breaker (payment_gateway, smtp, search) with its state (closed, open, half_open; unknown without Redis), ' +
      'failures in the window, retryAfterMs and opens; one not closed makes the status `degraded`, still a 200.',
    answers: { health: out.healthSchema },
    ok: (r) => ({ '200': answer('up, or degraded with search down', r.health), '503': answer('PostgreSQL, Redis or Temporal is down', r.health) }),
  },
  {
    method: 'get', url: '/products', summary: 'Lists and searches active products (Elasticsearch; PostgreSQL full text when it is down)',
    description:
      'Full text, filters, facets, sort and cursor paging. Blank parameters count as absent; unknown parameters are a 400; minPrice must not exceed maxPrice (a 400). ' +
      'Answers carry ETag, Cache-Control, X-Search-Engine and Server-Timing (es, engine, stock, app: where the handler spent its time, ms). A cursor only works with the sort, and the engine, that issued it (else a 400).',
    query: productListQuerySchema, answers: { productPage: out.productPageSchema },
    ok: (r) => ({ '200': answer('a page', r.productPage) }),
  },
  { method: 'get', url: '/products/suggest', summary: 'Autocomplete by name', query: suggestQuerySchema, answers: { suggestions: out.suggestionsSchema }, ok: (r) => ({ '200': answer('suggestions', r.suggestions) }) },
  { method: 'get', url: '/products/{sku}', summary: 'One product', path: { sku: skuSchema }, answers: { product: out.productSchema }, ok: (r) => ({ '200': answer('the product', r.product) }), errors: ['not_found'] },
  {
    method: 'get', url: '/products/{sku}/recommendations', summary: '"Also bought": products bought together with this one, best first',
    description:
      'Precomputed co-purchase scores with time decay (RECOMMENDATIONS_HALF_LIFE_DAYS), kept fresh after each paid order; refunded orders stop counting. ' +
      'Inactive and out-of-stock products are left out; the best sellers of the category fill up, or answer alone when the sku has no co-purchase data (source: bestsellers). ' +
      'limit is 1–50 (default 10). Answers carry ETag and Cache-Control (max-age 30); If-None-Match gets a 304. ' +
      'Each API process caches answers: a product deactivated, sold out or changed, or a purchase counted, shows within 2 × RECOMMENDATIONS_CACHE_POLL_MS (400 ms by default). ' +
      'Redis down or failing over: 503 service_unavailable with Retry-After.',
    path: { sku: skuSchema }, query: recommendationsQuerySchema, answers: { recommendations: out.recommendationsSchema },
    ok: (r) => ({ '200': answer('recommendations', r.recommendations) }), errors: ['not_found', 'service_unavailable'],
  },
  { method: 'post', url: '/carts', customer: 'optional', summary: 'Creates a cart', body: createCartBodySchema, bodyRequired: false, answers: { cart: out.cartSchema }, ok: (r) => ({ '201': answer('the cart', r.cart) }), errors: ['service_unavailable'] },
  { method: 'get', url: '/carts/{cartId}', customer: 'optional', summary: 'A cart, priced from the catalog now', path: { cartId: cartIdSchema }, answers: { cart: out.cartSchema }, ok: (r) => ({ '200': answer('the cart', r.cart) }), errors: ['not_found', 'service_unavailable'] },
  {
    method: 'put', url: '/carts/{cartId}/lines/{sku}', customer: 'optional', summary: 'Sets a line quantity (0 removes it)',
    description: 'While a checkout of the cart runs, its lines cannot change: 409 checkout_in_progress with details.checkoutId.',
    path: { cartId: cartIdSchema, sku: skuSchema }, body: setLineBodySchema(MAX_QUANTITY_PER_LINE), answers: { cart: out.cartSchema },
    ok: (r) => ({ '200': answer('the cart', r.cart) }), errors: ['not_found', 'checkout_in_progress', 'service_unavailable'],
  },
  {
    method: 'delete', url: '/carts/{cartId}/lines/{sku}', customer: 'optional', summary: 'Removes a line', path: { cartId: cartIdSchema, sku: skuSchema },
    answers: { cart: out.cartSchema }, ok: (r) => ({ '200': answer('the cart', r.cart) }), errors: ['not_found', 'checkout_in_progress', 'service_unavailable'],
  },
  {
    method: 'post', url: '/checkouts', customer: 'optional', summary: 'Checks a cart out (update-with-start of the checkout workflow)',
    description:
      '201 when the order is placed within the wait, 202 while still running (poll statusUrl), or the business failure with details.checkoutId. ' +
      'A payment that needs 3-D Secure answers 202 with nextAction { type: use_stripe_sdk, clientSecret }: the storefront runs Stripe.js ' +
      'handleNextAction with it, then POSTs confirmUrl. ' +
      'A replay with the same key and body answers the original status and body. ' +
      'A cart whose SKUs are already sold out (on hand minus reserved below what it asks for) answers 409 out_of_stock at once, ' +
      'with the same details a refused stock hold gives (details.checkoutId, details.items [{ sku, requested, available }], the short SKUs only): ' +
      'no workflow started, no stock held, the cart not locked; the refusal is recorded under the key (a replay answers it, also after a restock): ' +
      'after a restock or a smaller quantity, send a new Idempotency-Key. Checked before the payment breaker: a sold-out cart is out_of_stock whatever the gateway\'s state. ' +
      'Each API process refuses a SKU it read as sold out for up to SOLD_OUT_CACHE_MS (500 ms by default) without reading it again: a unit that comes back is sold again at most that long after. ' +
      'While the payment gateway\'s circuit breaker is open: 503 payment_unavailable with Retry-After (and details.retryAfterSeconds), answered at once; ' +
      'without details.checkoutId nothing was recorded (no checkout, no stock held: send the same key again after Retry-After); ' +
      'with details.checkoutId that checkout failed before any charge (its stock released): retry with a new Idempotency-Key ' +
      '(a replay of it keeps the recorded body, but its Retry-After is the breaker\'s remaining cool-down now, 1 once it no longer refuses). ' +
      'Redis down or failing over: 503 service_unavailable with Retry-After: send the same key again after it. ' +
      'Temporal unreachable, or no checkout workflow took the checkout: 503 service_unavailable with Retry-After and details.checkoutId ' +
      '(the checkout is pending, nothing held or charged): send the same key again after it, which starts it. ' +
      'An indefinite error from Temporal for a checkout whose workflow did start is answered as usual (201, the failure, or 202 pending), never a 5xx.',
    idempotent: true, body: checkoutBodySchema, answers: { checkout: out.checkoutSchema },
    ok: (r) => ({ '201': answer('placed', r.checkout), '202': answer('pending', r.checkout) }),
    errors: ['idempotency_key_required', 'not_found', 'out_of_stock', 'price_changed', 'checkout_in_progress', 'checkout_cancelled', 'payment_declined', 'payment_action_expired', 'payment_method_invalid', 'idempotency_key_reused', 'cart_empty', 'checkout_failed', 'payment_unavailable', 'service_unavailable'],
  },
  {
    method: 'post', url: '/checkouts/{checkoutId}/confirm', customer: 'optional', summary: "After the customer's 3-D Secure step: where the checkout stands now",
    description:
      'No body. The server re-reads the payment from the gateway (it never takes the caller\'s word) and answers 201 placed, ' +
      '202 still waiting (with nextAction while the customer must act), or the failure (402 payment_declined when 3-D Secure failed). ' +
      'A checkout that already ended answers as a replay of its POST /checkouts does. Safe to repeat.',
    path: { checkoutId: checkoutIdSchema }, answers: { checkout: out.checkoutSchema },
    ok: (r) => ({ '201': answer('placed', r.checkout), '202': answer('still waiting', r.checkout) }),
    errors: ['not_found', 'payment_declined', 'payment_action_expired', 'payment_method_invalid', 'out_of_stock', 'price_changed', 'checkout_cancelled', 'checkout_failed'],
  },
  { method: 'get', url: '/checkouts/{checkoutId}', customer: 'optional', summary: 'Where a checkout stands', path: { checkoutId: checkoutIdSchema }, answers: { checkout: out.checkoutSchema }, ok: (r) => ({ '200': answer('the checkout', r.checkout) }), errors: ['not_found'] },
  {
    method: 'get', url: '/orders', summary: 'Support: orders of a customer (email or customerId, at least one); events name the actor of support actions', admin: true, role: 'support', query: ordersQuerySchema,
    answers: { orders: out.itemsOf(out.orderSchema) }, ok: (r) => ({ '200': answer('orders', r.orders) }),
  },
  { method: 'get', url: '/orders/{orderId}', customer: 'optional', summary: 'An order with its payment and history', path: { orderId: orderIdSchema }, answers: { order: out.orderSchema }, ok: (r) => ({ '200': answer('the order', r.order) }), errors: ['not_found'] },
  {
    method: 'post', url: '/orders/{orderId}/refunds', admin: true, role: 'support', idempotent: true,
    summary: 'Support: refunds an order: full (neither amount nor lines), partial (amount, money only) or per line (lines, optional amount and restock)',
    description:
      'The amount is reserved against what was captured and the line units claimed against what was sold before the gateway is called: 422 refund_exceeds_captured ' +
      '(details.refundable) or refund_exceeds_sold; restock with an amount and no lines is a 400; an order whose sale was not committed and paid is 409 order_not_refundable.',
    path: { orderId: orderIdSchema }, body: refundBodySchema, answers: { refund: out.refundSchema },
    ok: (r) => ({ '201': answer('refund', r.refund), '202': answer('refund pending', r.refund) }),
    errors: ['idempotency_key_required', 'not_found', 'order_not_refundable', 'idempotency_key_reused', 'refund_exceeds_captured', 'refund_exceeds_sold'],
  },
  { method: 'get', url: '/orders/{orderId}/refunds', customer: 'optional', summary: 'Refunds of an order', path: { orderId: orderIdSchema }, answers: { refunds: out.itemsOf(out.refundSchema) }, ok: (r) => ({ '200': answer('refunds', r.refunds) }), errors: ['not_found'] },
  {
    method: 'get', url: '/unsubscribe/{token}', summary: 'The confirm page of a reminder\'s unsubscribe link: a button that POSTs; a GET never unsubscribes (link scanners)',
    description: 'HTML. An expired link (UNSUBSCRIBE_TOKEN_TTL_DAYS) is a 410 unsubscribe_link_expired, one we did not sign a 404 not_found: a page to a browser (Accept: text/html), else the JSON error.',
    path: { token: unsubscribeTokenSchema }, answers: {}, ok: () => ({ '200': htmlPage('the confirm page, with a form that POSTs to this URL') }), errors: ['not_found', 'unsubscribe_link_expired'],
  },
  {
    method: 'post', url: '/unsubscribe/{token}', summary: 'One-click unsubscribe (RFC 8058): opts the token\'s email out of cart reminders; idempotent',
    description:
      'What a mail client sends for `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (a form body `List-Unsubscribe=One-Click`, not read: the token is the whole request), ' +
      'and what the confirm page\'s button sends. Answers JSON, or an HTML page to a browser (Accept: text/html).',
    path: { token: unsubscribeTokenSchema }, answers: { unsubscribed: out.unsubscribedSchema },
    ok: (r) => ({ '200': { description: 'unsubscribed (also when already)', content: { 'application/json': { schema: r.unsubscribed }, 'text/html': { schema: { type: 'string' } } } } }),
    errors: ['not_found', 'unsubscribe_link_expired'],
  },
  {
    method: 'get', url: '/unsubscribe', summary: 'Links mailed before one-click unsubscribe: the same confirm page as GET /unsubscribe/{token} (those tokens carry no expiry: a 400 page)',
    query: unsubscribeQuerySchema, answers: {}, ok: () => ({ '200': htmlPage('the confirm page') }), errors: ['unsubscribe_link_expired'],
  },
  {
    method: 'post', url: '/admin/orders/{orderId}/retry', summary: 'Support: resume a checkout parked for attention (a `supportRetry` update the workflow validates; optional reason)', admin: true, role: 'support',
    description:
      '202 once the workflow took the retry (only then is support_retry recorded, with the actor and reason). 409 order_not_parked when nothing waits for support; ' +
      '409 support_action_conflict when another support action on this order was taken first (nothing recorded). A reason holding a card number is a 400.',
    path: { orderId: orderIdSchema }, body: retryBodySchema, bodyRequired: false,
    answers: { supportAction: out.supportActionSchema }, ok: (r) => ({ '202': answer('signalled', r.supportAction) }), errors: ['not_found', 'order_not_parked', 'support_action_conflict'],
  },
  {
    method: 'post', url: '/admin/orders/{orderId}/cancel', summary: 'Support: cancel a parked checkout; compensations run (void/refund, release stock)', admin: true, role: 'support',
    description:
      '202 once the workflow took the cancel (a `supportCancel` update; only then is support_cancel recorded). 409 order_not_parked when nothing waits for support; ' +
      '409 support_action_conflict when another person\'s retry or cancel was taken first (nothing recorded). A reason holding a card number is a 400.',
    path: { orderId: orderIdSchema }, body: cancelBodySchema, answers: { supportAction: out.supportActionSchema }, ok: (r) => ({ '202': answer('signalled', r.supportAction) }), errors: ['not_found', 'order_not_parked', 'support_action_conflict'],
  },
  {
    method: 'put', url: '/admin/products/{sku}', summary: 'Operations: create or update a product (omitted optional fields are cleared; reason: recorded in the catalog audit)', admin: true, role: 'operations',
    path: { sku: skuSchema }, body: productBodySchema, answers: { adminProduct: out.adminProductSchema }, ok: (r) => ({ '200': answer('the product', r.adminProduct) }),
  },
  {
    method: 'delete', url: '/admin/products/{sku}', summary: 'Operations: deactivate a product (no longer listed, suggested or sold)', admin: true, role: 'operations',
    path: { sku: skuSchema }, body: deactivateProductBodySchema, bodyRequired: false, answers: { adminProduct: out.adminProductSchema }, ok: (r) => ({ '200': answer('the product', r.adminProduct) }), errors: ['not_found'],
  },
  {
    method: 'post', url: '/local-gateway/authenticate', summary: "Dev and tests only (PAYMENT_GATEWAY=local, not production): the customer's 3-D Secure step",
    description:
      'Plays the page Stripe.js shows: passes or fails the step of the payment whose client secret is given (the first answer stands). ' +
      'Not served in production or with the stripe gateway.',
    body: localGatewayStepSchema, answers: { step: z.looseObject({ id: z.string(), status: z.string() }) },
    ok: (r) => ({ '200': answer('where the payment stands', r.step) }), errors: ['not_found'],
  },
  {
    method: 'post', url: '/webhooks/stripe', summary: 'Signed payment events from Stripe (or the local gateway): recorded once, handed to the owning workflow',
    description:
      'The Stripe-Signature header (t=<unix>,v1=<HMAC-SHA256 of "t.body" with STRIPE_WEBHOOK_SECRET>) is verified over the raw body with a timestamp tolerance ' +
      '(STRIPE_WEBHOOK_TOLERANCE_SECONDS); missing, forged, stale or altered: 400 webhook_signature_invalid, nothing written. Any content type is read as bytes, ' +
      'at most 256 KB (413). A verified event of ours is written to the inbox (unique event id) before the 200, and its checkout workflow is signalled or a ' +
      'follow-up workflow started, once; a duplicate answers 200 with outcome duplicate. An event not ours or of a type not acted on answers 200 and writes nothing. ' +
      'A 503 (the event could not be recorded or delivered) wrote nothing: the sender retries.',
    body: webhookEventSchema, answers: { webhookReceipt: webhookReceiptSchema },
    ok: (r) => ({ '200': answer('accepted, a duplicate, or ignored', r.webhookReceipt) }),
    errors: ['webhook_signature_invalid', 'service_unavailable'],
  },
  {
    method: 'post', url: '/customers', summary: 'Registers a customer account',
    description:
      'The email is unique in any case (409 email_taken); the password has at least 10 characters. It is stored as an scrypt hash (N=2^15, r=8, p=1, its own salt). ' +
      'Registrations are throttled per client IP (CUSTOMER_REGISTRATIONS_PER_IP; 429 rate_limited with Retry-After). Then POST /auth/login.',
    body: registerBodySchema, answers: { customer: customerSchema }, ok: (r) => ({ '201': answer('the account', r.customer) }), errors: ['email_taken', 'rate_limited'],
  },
  {
    method: 'post', url: '/auth/login', summary: 'Logs a customer in: an access token (JWT) and a refresh token',
    description:
      'A wrong email and a wrong password answer the same 401 invalid_credentials. Attempts are throttled per client IP (an IPv6 client by its /64; ' +
      'behind a proxy, TRUST_PROXY) and password checks per account, counted before they run, a success giving them back ' +
      '(429 rate_limited with Retry-After). With cartId, that guest cart is claimed: its lines merged into the customer\'s open cart (quantities summed; ' +
      'the answer\'s cartId names it) or, with none, the cart itself becomes theirs; another customer\'s cart is 404, a cart whose checkout runs 409 checkout_in_progress, too many merged lines 400, ' +
      'another login of the account claiming at the same moment 409 cart_claim_in_progress (no tokens then, and the carts are as they were).',
    body: loginBodySchema, answers: { tokenPair: tokenPairSchema }, ok: (r) => ({ '200': answer('tokens', r.tokenPair) }),
    errors: ['invalid_credentials', 'rate_limited', 'not_found', 'checkout_in_progress', 'cart_claim_in_progress'],
  },
  {
    method: 'post', url: '/auth/refresh', summary: 'Trades a refresh token for a new pair (rotation)',
    description:
      'A refresh token works once: the answer carries the next one. Using one a second time revokes every token of that login (401 refresh_token_reused); ' +
      'an unknown, expired or revoked one is 401 refresh_token_invalid.',
    body: refreshBodySchema, answers: { tokenPair: tokenPairSchema }, ok: (r) => ({ '200': answer('tokens', r.tokenPair) }), errors: ['refresh_token_invalid', 'refresh_token_reused'],
  },
  {
    method: 'post', url: '/auth/logout', summary: "Revokes the refresh token's login (its access token lives out its short TTL)",
    body: refreshBodySchema, answers: {}, ok: () => ({ '204': { description: 'logged out (also for a token that was not live)' } }),
  },
  {
    method: 'post', url: '/me/password', customer: 'required', summary: 'Changes the password; every refresh token of the account is revoked',
    description: 'Each check of the current password counts against the account\'s login limit (429 rate_limited with Retry-After). A login that verified the old password while the change ran gets no session.',
    body: changePasswordBodySchema, answers: {}, ok: () => ({ '204': { description: 'changed' } }), errors: ['invalid_credentials', 'rate_limited'],
  },
  {
    method: 'get', url: '/me/orders', customer: 'required', summary: "The customer's orders, newest first, a page at a time",
    description: 'limit 1–100 (default 20); nextCursor, when present, is the cursor of the next page.',
    query: meOrdersQuerySchema, answers: { orderPage: z.looseObject({ items: z.array(out.orderSchema), nextCursor: z.string().optional() }) },
    ok: (r) => ({ '200': answer('a page', r.orderPage) }),
  },
  {
    method: 'get', url: '/me/carts', customer: 'required', summary: "The customer's live carts, most recently changed first, priced now",
    answers: { carts: out.itemsOf(out.cartSchema) }, ok: (r) => ({ '200': answer('carts', r.carts) }),
  },
  {
    method: 'put', url: '/admin/inventory/{sku}', summary: 'Operations: sets counted stock (below what is reserved: 409 inventory_conflict with the numbers); audited', admin: true, role: 'operations',
    description:
      'Each change is recorded with its actor, reason, and on_hand before and after (GET /admin/inventory/{sku}/changes). `reason` is required of a personal ' +
      "support token (400 invalid_request without it) and optional for ADMIN_API_TOKEN (API.md's body is { onHand }).",
    path: { sku: skuSchema }, body: setInventoryBodySchema, answers: { stock: out.stockSchema }, ok: (r) => ({ '200': answer('stock', r.stock) }), errors: ['not_found', 'inventory_conflict'],
  },
  // Temporal's remote codec (api/routes/codec.ts): the Web UI and `temporal --codec-endpoint` decode history payloads here.
  ...(['encode', 'decode'] as const).map(
    (direction): Route => ({
      method: 'post', url: `/codec/${direction}`, admin: true, body: codecPayloadsSchema,
      summary: `Support: ${direction}s Temporal payloads (Temporal's codec-server protocol, for the Web UI and the CLI)`,
      description:
        'Payload metadata values and data are base64. Encrypted payloads (metadata encoding `binary/encrypted`, `encryption-key-id`) are AES-256-GCM under ' +
        'the key of that id; others pass through decode as they are. `X-Namespace` (optional) must be the deployment\'s namespace (else a 400). ' +
        'CORS: the Web UI origins (CODEC_CORS_ORIGINS) get Access-Control-Allow-Origin with credentials; the preflight needs no credential. ' +
        'The credential: `Authorization: Bearer …` or the `orderly_support` cookie set by POST /codec/session. Answers are `Cache-Control: no-store`.',
      answers: { codecPayloads: codecPayloadsSchema },
      ok: (r) => ({ '200': answer(`the ${direction}d payloads, in order`, r.codecPayloads) }),
      errors: direction === 'decode' ? ['payload_undecodable'] : [],
    }),
  ),
  {
    method: 'post', url: '/codec/email-hash', admin: true, body: emailHashBodySchema,
    summary: "Support: the CustomerEmailHash of an email and the Web UI query for its workflows (the email itself is never a search attribute)",
    answers: { customerEmailHash: emailHashSchema }, ok: (r) => ({ '200': answer('the hash and the visibility query', r.customerEmailHash) }),
  },
  {
    method: 'get', url: '/codec/session', summary: "Support: the sign-in page that keeps the support credential in a cookie for the Web UI's codec calls",
    answers: {}, ok: () => ({ '200': { description: 'an HTML form (token)', content: { 'text/html': { schema: { type: 'string' } } } } }),
  },
  {
    method: 'post', url: '/codec/session', admin: true,
    summary: 'Support: checks the credential (form field `token`, application/x-www-form-urlencoded, or the Authorization header) and sets it as the cookie',
    description: 'The cookie `orderly_support` is HttpOnly, SameSite=Strict, Path=/codec, 8 hours (Secure in production): the Web UI sends it with "Include cross-origin credentials".',
    answers: {}, ok: () => ({ '204': { description: 'signed in (Set-Cookie)' } }),
  },
  { method: 'delete', url: '/codec/session', summary: 'Support: clears the codec cookie', answers: {}, ok: () => ({ '204': { description: 'signed out' } }) },
  {
    method: 'get', url: '/admin/inventory/{sku}/changes', summary: "Operations: the audit of a sku's counted stock, newest first (who, when, why, before and after)", admin: true, role: 'operations',
    path: { sku: skuSchema }, answers: { stockChanges: out.itemsOf(stockChangeSchema) }, ok: (r) => ({ '200': answer('stock changes', r.stockChanges) }),
  },
  {
    method: 'post', url: '/admin/support-tokens', summary: "Admin: creates a person's support token (osp_…) with roles; the token is in this answer only", admin: true, role: 'admin',
    description: 'Stored as a SHA-256 hash. Roles: support (retry, cancel, refund, order search), operations (catalog, stock), admin (support tokens).',
    body: createSupportTokenBodySchema, answers: { createdSupportToken: createdSupportTokenSchema }, ok: (r) => ({ '201': answer('created; `token` is shown once', r.createdSupportToken) }),
  },
  {
    method: 'get', url: '/admin/support-tokens', summary: 'Admin: support identities, without their secrets (revoked ones included)', admin: true, role: 'admin',
    answers: { supportIdentities: out.itemsOf(supportIdentitySchema) }, ok: (r) => ({ '200': answer('support identities', r.supportIdentities) }),
  },
  {
    method: 'delete', url: '/admin/support-tokens/{id}', summary: 'Admin: revokes a support token (at once: the next request with it is a 403)', admin: true, role: 'admin',
    path: { id: supportTokenIdSchema }, answers: { supportIdentity: supportIdentitySchema }, ok: (r) => ({ '200': answer('revoked', r.supportIdentity) }), errors: ['not_found'],
  },
];
