import { loadConfig } from '../../config';

const base = { ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' } as const;

describe('config: an empty value means unset (a ConfigMap or compose file lists every variable)', () => {
  it('empty optional values keep their defaults instead of failing validation', () => {
    const config = loadConfig({
      ...base,
      CATALOG_DATABASE_URL: '',
      STRIPE_API_BASE: '',
      GATEWAY_FAULT_MODE: '',
      REFUND_WAIT_MS: '',
      CHECKOUT_WAIT_MS: '2500',
      PORT: '',
      WORKER_HEARTBEAT_FILE: '',
    });
    expect(config.databaseUrls.catalog).toBe(config.databaseUrls.order);
    expect(config.payment.stripeApiBase).toBeUndefined();
    expect(config.faults.gateway).toBeUndefined();
    expect(config.refund.waitMs).toBe(2500);
    expect(config.port).toBe(3000);
    expect(config.worker.heartbeatFile).toBeUndefined();
  });

  it('an empty secret in production is still a missing secret', () => {
    expect(() => loadConfig({ ORDERLY_MODE: 'production', ADMIN_API_TOKEN: '', UNSUBSCRIBE_SECRET: 'x'.repeat(32) })).toThrow('ADMIN_API_TOKEN is required in production');
  });

  it('the worker drains in-flight activities for the longest activity timeout by default', () => {
    expect(loadConfig(base).worker.shutdownGraceSeconds).toBe(120);
    expect(loadConfig({ ...base, WORKER_SHUTDOWN_GRACE_SECONDS: '30' }).worker.shutdownGraceSeconds).toBe(30);
  });
});
