import { randomBytes } from 'node:crypto';
import { startStack, type Stack } from '../helpers/stack';

/** Review of branch r15a: races between logins (cart claims) and password changes, over HTTP. */
describe('customer accounts: races over HTTP (review)', () => {
  // (two concurrent logins claiming two guest carts lost every unit in 1 of 4 rounds over HTTP once;
  // customer-accounts-review.test.ts shows that interleaving deterministically through claimCart)
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { CUSTOMER_LOGIN_ATTEMPTS_PER_IP: '100000', CUSTOMER_LOGIN_FAILURES_PER_ACCOUNT: '1000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const PASSWORD = 'correct horse battery';
  const newEmail = () => `r-${randomBytes(6).toString('hex')}@example.com`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  async function register(email = newEmail()) {
    const res = await stack.http('POST', '/customers', { body: { email, password: PASSWORD } });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, email };
  }
  const login = (email: string, extra: Record<string, unknown> = {}, password = PASSWORD) =>
    stack.http('POST', '/auth/login', { body: { email, password, ...extra } });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('a login with the old password racing a password change never leaves a live session after the change', async () => {
    const survived: unknown[] = [];
    const trace: unknown[] = [];
    for (const delay of [100, 200, 300, 400, 500, 600, 700, 800, 900]) {
      const t0 = Date.now();
      const { email } = await register();
      const session = (await login(email)).body;
      const change = stack.http('POST', '/me/password', {
        body: { currentPassword: PASSWORD, newPassword: 'a brand new password' },
        headers: bearer(session.accessToken),
      });
      await sleep(delay);
      const attacker = login(email); // the old password (phished, say)
      const [changed, stolen] = await Promise.all([change.then((r) => ({ ...r, t: Date.now() - t0 })), attacker.then((r) => ({ ...r, t: Date.now() - t0 }))]);
      trace.push({ delay, change: changed.t, login: stolen.status, loginDone: stolen.t });
      expect(changed.status).toBe(204);
      if (stolen.status !== 200) continue;
      // after the change answered: the session the old password opened must not refresh
      const refreshed = await stack.http('POST', '/auth/refresh', { body: { refreshToken: stolen.body.refreshToken } });
      if (refreshed.status === 200) survived.push({ delay, refreshed: refreshed.status, trace: trace[trace.length - 1] });
    }
    expect(survived).toEqual([]);
  });
});
