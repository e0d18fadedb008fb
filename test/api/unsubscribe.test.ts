import { randomUUID } from 'node:crypto';
import { isOptedOut, unsubscribeToken, verifyUnsubscribeToken } from '../../db/stores/unsubscribe';
import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

/** RFC 8058 one-click unsubscribe: POST unsubscribes, GET only asks, tokens expire. (The mail's headers: test/workflows/cart-recovery.test.ts.) */
describe('unsubscribe links', () => {
  let deps: TestDeps;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    deps = await createTestDeps({ UNSUBSCRIBE_SECRET: 'a-test-secret-of-some-length' });
    app = await startTestApp(deps);
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
  });
  const secret = () => deps.config.recovery.unsubscribeSecret;
  const post = (token: string, accept = 'application/json') =>
    fetch(`${app.baseUrl}/unsubscribe/${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept }, body: 'List-Unsubscribe=One-Click' });

  it('an expired link is a 410 unsubscribe_link_expired, as JSON to the POST and as a page to the GET; nobody is unsubscribed', async () => {
    const email = `late-${randomUUID()}@example.com`;
    const token = unsubscribeToken(secret(), email, new Date(Date.now() - 1_000));
    const res = await post(token);
    expect(res.status).toBe(410);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsubscribe_link_expired');
    const page = await fetch(`${app.baseUrl}/unsubscribe/${token}`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(410);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('expired');
    expect(await isOptedOut(deps.dbs.notification, email)).toBe(false);
    const api = await fetch(`${app.baseUrl}/unsubscribe/${token}`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(410);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('unsubscribe_link_expired');
  });

  it('a link within its lifetime works from a browser: the page\'s POST answers a page', async () => {
    const email = `Browser-${randomUUID()}@example.com`;
    const token = unsubscribeToken(secret(), email, new Date(Date.now() + 3_600_000));
    expect((await fetch(`${app.baseUrl}/unsubscribe/${token}`)).status).toBe(200);
    expect(await isOptedOut(deps.dbs.notification, email)).toBe(false);
    const res = await post(token, 'text/html');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('no more cart reminders');
    expect(await isOptedOut(deps.dbs.notification, email)).toBe(true);
  });

  it('tokens carry the configured lifetime and a signature over the address and the expiry', () => {
    const now = new Date('2026-11-25T12:00:00Z');
    const token = unsubscribeToken('s'.repeat(20), 'a@example.com', new Date(now.getTime() + 60_000));
    expect(verifyUnsubscribeToken('s'.repeat(20), token, now)).toEqual({ status: 'valid', email: 'a@example.com' });
    expect(verifyUnsubscribeToken('s'.repeat(20), token, new Date(now.getTime() + 60_000))).toEqual({ status: 'expired' });
    expect(verifyUnsubscribeToken('t'.repeat(20), token, now)).toEqual({ status: 'invalid' });
    expect(deps.config.unsubscribeTokenTtlSeconds).toBe(60 * 86_400);
  });

  it('another method on the link is a 405, and a malformed token a 400 before any lookup', async () => {
    expect((await fetch(`${app.baseUrl}/unsubscribe/abc`, { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${app.baseUrl}/unsubscribe/abc`, { method: 'DELETE' })).status).toBe(405);
  });
});
