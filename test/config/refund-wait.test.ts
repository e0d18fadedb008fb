import { loadConfig } from '../../config';

const base = { ORDERLY_MODE: 'test', LOG_LEVEL: 'silent' } as const;

describe('config: how long a refund request waits', () => {
  it('waits as long as a checkout when REFUND_WAIT_MS is not set', () => {
    expect(loadConfig({ ...base, CHECKOUT_WAIT_MS: '2500' }).refund.waitMs).toBe(2500);
  });

  it('REFUND_WAIT_MS sets its own wait, the checkout wait stays', () => {
    const config = loadConfig({ ...base, CHECKOUT_WAIT_MS: '2500', REFUND_WAIT_MS: '0' });
    expect(config.refund.waitMs).toBe(0);
    expect(config.checkout.waitMs).toBe(2500);
  });

  it('a negative REFUND_WAIT_MS is refused at start-up', () => {
    expect(() => loadConfig({ ...base, REFUND_WAIT_MS: '-1' })).toThrow();
  });
});
