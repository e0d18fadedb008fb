import { randomBytes } from 'node:crypto';
import { startStack, type Stack } from '../helpers/stack';

describe('registration throttling (POST /customers)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { CUSTOMER_REGISTRATIONS_PER_IP: '2', TRUST_PROXY: '1' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const register = (ip: string) =>
    stack.http('POST', '/customers', { body: { email: `t-${randomBytes(6).toString('hex')}@example.com`, password: 'correct horse battery' }, headers: { 'x-forwarded-for': ip } });

  it('a client IP gets CUSTOMER_REGISTRATIONS_PER_IP registrations per window, then 429 with Retry-After; another IP is not affected', async () => {
    expect((await register('203.0.113.10')).status).toBe(201);
    expect((await register('203.0.113.10')).status).toBe(201);
    const third = await register('203.0.113.10');
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('rate_limited');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await register('203.0.113.11')).status).toBe(201);
  });

  it('IPv6 clients of one /64 share one budget', async () => {
    expect((await register('2001:db8:aa:1::1')).status).toBe(201);
    expect((await register('2001:db8:aa:1::2')).status).toBe(201);
    expect((await register('2001:db8:aa:1:ffff::3')).status).toBe(429);
  });
});
