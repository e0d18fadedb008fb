import { randomBytes } from 'node:crypto';
import { customerEmailHash, EncryptionCodec, ENCRYPTED_ENCODING } from '../../temporal/codec';
import { loadConfig } from '../../config';
import { eventually } from '../helpers/eventually';
import { recordHistory } from '../helpers/histories';
import { createProduct, startStack, type Stack } from '../helpers/stack';
import { readableText, temporalCli } from '../helpers/temporal-cli';

/**
 * Personal data out of Temporal history: a real checkout (and its refund, and a declined one)
 * through the API and a worker, the history read back with the Temporal CLI as any Web UI or
 * CLI user would — and the same history through the codec endpoint, where support reads it.
 */
/** Every failure's `message` in a history (CLI JSON): failures are the objects with a `failureInfo`-style key or a `cause`. */
function failureMessages(json: string): string[] {
  const found: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (typeof o.message === 'string' && Object.keys(o).some((k) => k.endsWith('FailureInfo') || k === 'encodedAttributes' || k === 'stackTrace')) found.push(o.message);
    Object.values(o).forEach(walk);
  };
  walk(JSON.parse(json));
  return found;
}

describe('payload codec: no plain-text personal data in Temporal history (real Temporal, the CLI)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ worker: true, env: { CHECKOUT_WAIT_MS: '30000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const admin = () => ({ Authorization: `Bearer ${stack.config.adminApiToken}` });
  const address = () => ['--address', stack.config.temporal.address, '--namespace', stack.config.temporal.namespace];
  /** The history as everyone with access to Temporal reads it (Web UI, CLI): no codec. */
  const rawHistory = async (workflowId: string) => readableText(await temporalCli(['workflow', 'show', '--output', 'json', '-w', workflowId, ...address()]));
  /** The history decoded by the codec endpoint, with the support credential (docs/support.md). */
  const decodedHistory = async (workflowId: string) =>
    readableText(
      await temporalCli(['workflow', 'show', '--output', 'json', '-w', workflowId, ...address(), '--codec-endpoint', `${stack.baseUrl}/codec`, '--codec-auth', `Bearer ${stack.config.adminApiToken}`]),
    );

  /** A customer's personal data, unique to the test (so a match can only come from this checkout). */
  function customer() {
    const tag = randomBytes(5).toString('hex');
    return {
      email: `Private.Person-${tag}@example.com`,
      paymentToken: `tok_private_${tag}`,
      shippingAddress: { name: `Pat Private ${tag}`, line1: `${tag} Secret Lane`, city: 'Hiddenville', postalCode: `ZX${tag}` },
    };
  }
  const secretsOf = (c: ReturnType<typeof customer>) => [c.email, c.email.toLowerCase(), c.paymentToken, c.shippingAddress.name, c.shippingAddress.line1, c.shippingAddress.postalCode];

  async function checkout(c: ReturnType<typeof customer>, extra: Record<string, unknown> = {}) {
    const sku = await createProduct(stack.dbs, { priceAmount: 2500, onHand: 10 });
    const cart = await stack.http('POST', '/carts', { body: {} });
    expect((await stack.http('PUT', `/carts/${cart.body.id}/lines/${sku}`, { body: { quantity: 1 } })).status).toBe(200);
    const res = await stack.http('POST', '/checkouts', {
      headers: { 'Idempotency-Key': `codec-${randomBytes(4).toString('hex')}` },
      body: { cartId: cart.body.id, email: c.email, paymentToken: c.paymentToken, shippingAddress: c.shippingAddress, ...extra },
    });
    const handle = stack.temporal.workflow.getHandle(`checkout-${cart.body.id as string}`);
    await handle.result();
    return { res, handle, workflowId: handle.workflowId };
  }

  it('a placed checkout: email, shipping address and payment token are nowhere in its history; decoded through the codec endpoint they are all there', async () => {
    const c = customer();
    const { res, handle, workflowId } = await checkout(c);
    expect(res.status).toBe(201);
    await recordHistory(handle, 'checkoutWorkflow', 'encrypted-placed');

    const raw = await rawHistory(workflowId);
    for (const secret of secretsOf(c)) expect(raw).not.toContain(secret);
    // every payload is ciphertext under the current key id
    expect(raw).toContain(ENCRYPTED_ENCODING);
    expect(raw).toContain(stack.config.privacy.payloadKeys.current.id);

    // the same check finds them once the payloads are decoded: the assertion above can fail
    const decoded = await decodedHistory(workflowId);
    for (const secret of [c.email, c.paymentToken, c.shippingAddress.line1, c.shippingAddress.postalCode]) expect(decoded).toContain(secret);
  });

  it('search attributes hold a keyed hash of the email, never the email; support finds the workflows by it', async () => {
    const c = customer();
    const { res, handle, workflowId } = await checkout(c);
    expect(res.status).toBe(201);
    const description = await handle.describe();
    const attributes = JSON.stringify(description.searchAttributes);
    expect(attributes).not.toContain(c.email.toLowerCase().split('@')[0]);
    const hash = customerEmailHash(stack.config.privacy.emailHashSecret, c.email);
    expect(description.searchAttributes.CustomerEmailHash).toEqual([hash]);
    expect(description.searchAttributes.CustomerEmail).toBeUndefined();

    // support: the hash of the email as typed in any case, and the query that finds its workflows
    const lookup = await stack.http('POST', '/codec/email-hash', { headers: admin(), body: { email: `  ${c.email.toUpperCase()} `.trim() } });
    expect(lookup.status).toBe(200);
    expect(lookup.body).toEqual({ customerEmailHash: hash, query: `CustomerEmailHash = "${hash}"` });
    const found = await eventually(async () => {
      const ids: string[] = [];
      for await (const w of stack.temporal.workflow.list({ query: lookup.body.query })) ids.push(w.workflowId);
      return ids.length > 0 ? ids : undefined;
    }, 15_000, 'the visibility query');
    expect(found).toEqual([workflowId]);
    // the CLI shows the same: no email in the search attributes it prints either
    const described = readableText(await temporalCli(['workflow', 'describe', '--output', 'json', '-w', workflowId, ...address()]));
    expect(described).toContain(hash);
    expect(described).not.toContain(c.email);
  });

  it('a declined checkout (failures in history) and a refund (another workflow with the email) keep them out too', async () => {
    const declinedCustomer = customer();
    const declined = await checkout(declinedCustomer, { paymentToken: 'tok_chargeDeclined' });
    expect(declined.res.status).toBe(402);
    const declinedHistory = await rawHistory(declined.workflowId);
    for (const secret of [declinedCustomer.email, declinedCustomer.shippingAddress.line1]) expect(declinedHistory).not.toContain(secret);
    // failure messages and stack traces are encoded attributes (encrypted), whatever an error quoted
    const messages = failureMessages(await temporalCli(['workflow', 'show', '--output', 'json', '-w', declined.workflowId, ...address()]));
    expect(messages.length).toBeGreaterThan(0);
    expect(new Set(messages)).toEqual(new Set(['Encoded failure']));

    const c = customer();
    const placed = await checkout(c);
    expect(placed.res.status).toBe(201);
    const refund = await stack.http('POST', `/orders/${placed.res.body.orderId as string}/refunds`, { headers: { ...admin(), 'Idempotency-Key': `codec-refund-${randomBytes(4).toString('hex')}` }, body: { reason: 'codec test' } });
    expect(refund.status).toBe(201);
    const refundId = `refund-${refund.body.refundId as string}`;
    const refundHistory = await rawHistory(refundId);
    expect(refundHistory).not.toContain(c.email);
    expect(refundHistory).not.toContain(c.email.toLowerCase());
    expect(await decodedHistory(refundId)).toContain(c.email);
    const description = await stack.temporal.workflow.getHandle(refundId).describe();
    expect(description.searchAttributes.CustomerEmailHash).toEqual([customerEmailHash(stack.config.privacy.emailHashSecret, c.email)]);
  });
});

describe('the codec endpoint (Temporal codec-server protocol, CORS, support credential)', () => {
  let stack: Stack;
  const uiOrigin = 'http://localhost:8233';
  beforeAll(async () => {
    stack = await startStack({ env: { TEMPORAL_UI_URL: `${uiOrigin}/namespaces/default` } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const admin = () => ({ Authorization: `Bearer ${stack.config.adminApiToken}` });
  const json = (s: unknown) => Buffer.from(JSON.stringify(s)).toString('base64');
  const plainPayload = (value: unknown) => ({ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: json(value) });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    stack.http('POST', path, { body, headers: { 'X-Namespace': stack.config.temporal.namespace, ...headers } });

  it('encode then decode gives the payloads back; the encoded ones carry binary/encrypted and the key id, not the value', async () => {
    const payloads = [plainPayload({ email: 'codec@example.com' }), plainPayload('tok_codec')];
    const encoded = await post('/codec/encode', { payloads }, admin());
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('cache-control')).toBe('no-store');
    expect(encoded.body.payloads).toHaveLength(2);
    for (const p of encoded.body.payloads as { metadata: Record<string, string>; data: string }[]) {
      expect(Buffer.from(p.metadata.encoding ?? '', 'base64').toString()).toBe(ENCRYPTED_ENCODING);
      expect(Buffer.from(p.metadata['encryption-key-id'] ?? '', 'base64').toString()).toBe(stack.config.privacy.payloadKeys.current.id);
      expect(Buffer.from(p.data, 'base64').toString('latin1')).not.toContain('codec@example.com');
    }
    const decoded = await post('/codec/decode', encoded.body, admin());
    expect(decoded.status).toBe(200);
    expect(decoded.body).toEqual({ payloads });
    // a payload that is not encrypted (histories from before the codec) decodes as it is
    expect((await post('/codec/decode', { payloads }, admin())).body).toEqual({ payloads });
  });

  it('the Web UI origin: the preflight is answered without a credential, and answers name the origin with credentials allowed; another origin gets no CORS headers', async () => {
    const preflight = await stack.http('OPTIONS', '/codec/decode', {
      headers: { Origin: uiOrigin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace,authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
    expect(preflight.headers.get('vary')).toContain('Origin');

    const answered = await post('/codec/decode', { payloads: [] }, { ...admin(), Origin: uiOrigin });
    expect(answered.status).toBe(200);
    expect(answered.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    // a refusal carries the CORS headers too, so the UI can show it
    const refused = await post('/codec/decode', { payloads: [] }, { Origin: uiOrigin });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(uiOrigin);

    const elsewhere = await stack.http('OPTIONS', '/codec/decode', { headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
    expect(elsewhere.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it.each([
    ['no credential', 401, 'unauthorized', {}],
    ['a wrong credential', 403, 'forbidden', { Authorization: 'Bearer not-the-token' }],
  ])('%s → %i %s on encode, decode and email-hash', async (_name, status, code, headers) => {
    for (const path of ['/codec/encode', '/codec/decode']) {
      const res = await post(path, { payloads: [plainPayload('x')] }, headers as Record<string, string>);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
    }
    const hash = await post('/codec/email-hash', { email: 'someone@example.com' }, headers as Record<string, string>);
    expect(hash.status).toBe(status);
  });

  it('the sign-in sets the credential as an HttpOnly cookie for /codec, which then stands for the header (the Web UI sends cookies)', async () => {
    const page = await stack.http('GET', '/codec/session');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const wrong = await stack.http('POST', '/codec/session', { rawBody: 'token=nope', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const signIn = await stack.http('POST', '/codec/session', { rawBody: `token=${encodeURIComponent(stack.config.adminApiToken)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(signIn.status).toBe(204);
    const setCookie = signIn.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^orderly_support=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/Path=\/codec/);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    const cookie = setCookie.split(';')[0] ?? '';
    const decoded = await post('/codec/decode', { payloads: [plainPayload(1)] }, { Cookie: cookie, Origin: uiOrigin });
    expect(decoded.status).toBe(200);
    const signOut = await stack.http('DELETE', '/codec/session', { headers: { Cookie: cookie } });
    expect(signOut.status).toBe(204);
    expect(signOut.headers.get('set-cookie')).toMatch(/orderly_support=;/);
  });

  it('bad requests are a 4xx with a code: not the shape, another namespace, a tampered payload, an unknown key', async () => {
    expect((await post('/codec/decode', { payloads: 'no' }, admin())).body.error.code).toBe('invalid_request');
    expect((await post('/codec/decode', { payloads: [{ data: 'not base64!' }] }, admin())).status).toBe(400);
    const other = await post('/codec/decode', { payloads: [] }, { ...admin(), 'X-Namespace': 'someone-else' });
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('invalid_request');
    expect((await post('/codec/email-hash', { email: 'not an email' }, admin())).status).toBe(400);

    const encoded = (await post('/codec/encode', { payloads: [plainPayload('secret')] }, admin())).body.payloads[0];
    const bytes = Buffer.from(encoded.data, 'base64');
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 1;
    const tampered = await post('/codec/decode', { payloads: [{ ...encoded, data: bytes.toString('base64') }] }, admin());
    expect(tampered.status).toBe(422);
    expect(tampered.body.error).toMatchObject({ code: 'payload_undecodable', details: { keyId: stack.config.privacy.payloadKeys.current.id } });

    const foreign = new EncryptionCodec({ current: { id: 'elsewhere', key: randomBytes(32) }, old: [] });
    const [alien] = await foreign.encode([{ metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('"x"') }]);
    const unknown = await post('/codec/decode', { payloads: [{ metadata: { encoding: Buffer.from(alien?.metadata?.encoding ?? []).toString('base64'), 'encryption-key-id': Buffer.from('elsewhere').toString('base64') }, data: Buffer.from(alien?.data ?? []).toString('base64') }] }, admin());
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'payload_undecodable', details: { keyId: 'elsewhere' } });
  });

  it('after a key rotation the endpoint still decodes what the old key encrypted, and encrypts with the new one', async () => {
    const k1 = randomBytes(32).toString('base64');
    const k2 = randomBytes(32).toString('base64');
    const before = await startStack({ env: { PAYLOAD_ENCRYPTION_KEY_ID: 'k1', PAYLOAD_ENCRYPTION_KEY: k1 } });
    const after = await startStack({ env: { PAYLOAD_ENCRYPTION_KEY_ID: 'k2', PAYLOAD_ENCRYPTION_KEY: k2, PAYLOAD_ENCRYPTION_OLD_KEYS: `k1:${k1}` } });
    try {
      const headers = { ...admin(), 'X-Namespace': stack.config.temporal.namespace };
      const old = await before.http('POST', '/codec/encode', { headers, body: { payloads: [plainPayload('from before')] } });
      const decoded = await after.http('POST', '/codec/decode', { headers, body: old.body });
      expect(decoded.body).toEqual({ payloads: [plainPayload('from before')] });
      const fresh = await after.http('POST', '/codec/encode', { headers, body: { payloads: [plainPayload('from after')] } });
      expect(Buffer.from(fresh.body.payloads[0].metadata['encryption-key-id'], 'base64').toString()).toBe('k2');
      // the process from before the rotation does not know k2: it refuses, loudly
      expect((await before.http('POST', '/codec/decode', { headers, body: fresh.body })).body.error).toMatchObject({ code: 'payload_undecodable', details: { keyId: 'k2' } });
    } finally {
      await before.close();
      await after.close();
    }
  });

  it('the dev key is what a test process uses without PAYLOAD_ENCRYPTION_KEY', () => {
    expect(stack.config.privacy.payloadKeys.current.id).toBe(loadConfig({ ORDERLY_MODE: 'test' }).privacy.payloadKeys.current.id);
  });
});
