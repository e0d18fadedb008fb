import { randomBytes } from 'node:crypto';
import { startStack, type Stack } from '../helpers/stack';

/**
 * Review of branch r15a. The per-IP login limit keys on req.ip, and the app never sets Express's
 * `trust proxy` (there is no setting for it): behind the ingress / a storefront BFF every
 * customer has the proxy's address, so one client's attempts (an attacker's, or just traffic)
 * lock every customer out of login for the window.
 */
describe('login throttling behind a reverse proxy (review)', () => {
  let stack: Stack;
  beforeAll(async () => {
    // the API behind one proxy hop (the test client at 127.0.0.1 plays the proxy): TRUST_PROXY
    stack = await startStack({ env: { CUSTOMER_LOGIN_ATTEMPTS_PER_IP: '3', CUSTOMER_LOGIN_FAILURES_PER_ACCOUNT: '100', TRUST_PROXY: '1' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("an attacker's attempts from one client do not lock out another client's correct login", async () => {
    const email = `r-${randomBytes(6).toString('hex')}@example.com`;
    expect((await stack.http('POST', '/customers', { body: { email, password: 'correct horse battery' } })).status).toBe(201);
    const attacker = { 'x-forwarded-for': '203.0.113.66' };
    for (let i = 0; i < 3; i++) {
      await stack.http('POST', '/auth/login', { body: { email: `victim${i}@example.com`, password: 'whatever-guess' }, headers: attacker });
    }
    const customer = await stack.http('POST', '/auth/login', { body: { email, password: 'correct horse battery' }, headers: { 'x-forwarded-for': '198.51.100.7' } });
    expect(customer.status).toBe(200);
  });
});
