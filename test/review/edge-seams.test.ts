import { randomBytes } from 'node:crypto';
import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

/**
 * Review: seams at the edge.
 *  - /codec's cookie credential decodes the cookie with decodeURIComponent, unguarded: a malformed
 *    percent-encoding in a Cookie header is a 500 (invariant 9: any header byte sequence is a 4xx).
 *  - the customer-token middleware runs before the rate limits and answers a JWT-shaped but invalid
 *    bearer 401 itself: those requests are never counted (the limits count malformed bodies, but
 *    not forged tokens), so a client can send them without limit.
 */
describe('review: edge seams (codec cookie, customer auth before the rate limits)', () => {
  let deps: TestDeps;
  let app: { baseUrl: string; close(): Promise<void> };
  beforeAll(async () => {
    deps = await createTestDeps({ RATE_LIMITS_ENABLED: 'true', RATE_LIMIT_NAMESPACE: `t-${randomBytes(5).toString('hex')}`, RATE_LIMIT_IP: '3/60' });
    app = await startTestApp(deps);
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
  });

  it('a malformed percent-encoding in the support cookie is a 4xx, not a 500', async () => {
    const res = await fetch(`${app.baseUrl}/codec/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: 'orderly_support=%E0%A4%A' },
      body: JSON.stringify({ payloads: [] }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('requests with a forged customer token count against the per-IP limit', async () => {
    const forged = { Authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${app.baseUrl}/carts/cart_${randomBytes(16).toString('hex')}`, { headers: forged })).status);
    // a quota of 3 per minute: the 4th and later requests from this IP are 429
    expect(statuses.slice(3)).toEqual([429, 429, 429]);
  });
});
