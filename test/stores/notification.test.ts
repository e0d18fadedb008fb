import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { outbox } from '../../db/schema/notification';
import { sendOnce, SendInProgressError, type OutgoingMessage } from '../../db/stores/notification-outbox';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const never = () => new Promise<never>(() => undefined);

/**
 * An SMTP stand-in that counts the messages it was handed, per idempotency key (the subject
 * carries it). `slowMs` delays the hand-off; `fail` rejects without handing off; `crash`
 * simulates the holder's process dying — before or after the hand-off — by never settling.
 */
class CountingMailer {
  readonly handedOff = new Map<string, number>();
  count(key: string): number {
    return this.handedOff.get(key) ?? 0;
  }
  send(opts: { slowMs?: number; fail?: boolean; crash?: 'before_handoff' | 'after_handoff'; onCrash?: () => void } = {}) {
    return async (m: { subject: string }): Promise<{ messageId: string }> => {
      if (opts.slowMs) await sleep(opts.slowMs);
      if (opts.fail) throw new Error('421 service not available');
      if (opts.crash === 'before_handoff') {
        opts.onCrash?.();
        return never();
      }
      this.handedOff.set(m.subject, this.count(m.subject) + 1);
      if (opts.crash === 'after_handoff') {
        opts.onCrash?.();
        return never();
      }
      return { messageId: `<${randomBytes(6).toString('hex')}@stub>` };
    };
  }
}

const message = (key: string): OutgoingMessage => ({ idempotencyKey: key, kind: 'test', recipient: 'lease@example.com', subject: key, text: 't', html: '<p>t</p>' });
const newKey = () => `lease-test:${randomBytes(8).toString('hex')}`;

describe('sendOnce: one email per key, also when attempts overlap (outbox lease)', () => {
  let dbs: Databases;
  beforeAll(() => {
    dbs = createDatabases(loadConfig({ ...process.env, ORDERLY_MODE: 'test' }));
  });
  afterAll(async () => {
    await dbs?.close();
  });

  const row = async (key: string) => (await dbs.notification.select().from(outbox).where(eq(outbox.idempotencyKey, key)))[0];
  /** Waits until some attempt has claimed the row (a busy machine may take a while to get there). */
  async function leased(key: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!(await row(key))?.leaseToken) {
      if (Date.now() > deadline) throw new Error(`no attempt claimed ${key}`);
      await sleep(10);
    }
  }

  /** What a Temporal retry does: call again while another attempt holds the row. */
  async function untilSettled(attempt: () => Promise<{ sent: boolean }>, deadlineMs = 10_000): Promise<{ sent: boolean }> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof SendInProgressError) || Date.now() > deadline) throw err;
        await sleep(50);
      }
    }
  }

  it('two overlapping attempts for one key send one email: the second finds the row leased and must retry, then finds it sent', async () => {
    const mailer = new CountingMailer();
    const key = newKey();
    const first = sendOnce(dbs.notification, mailer.send({ slowMs: 400 }), message(key));
    await leased(key);
    await expect(sendOnce(dbs.notification, mailer.send(), message(key))).rejects.toBeInstanceOf(SendInProgressError);
    expect(await first).toMatchObject({ sent: true });
    expect(await sendOnce(dbs.notification, mailer.send(), message(key))).toMatchObject({ sent: false });
    expect(mailer.count(key)).toBe(1);
    expect(await row(key)).toMatchObject({ status: 'sent', leaseUntil: null });
  });

  it('a holder that dies before handing off: once its lease expires a later attempt sends', async () => {
    const mailer = new CountingMailer();
    const key = newKey();
    void sendOnce(dbs.notification, mailer.send({ crash: 'before_handoff' }), message(key), { leaseMs: 1_000 });
    await leased(key);
    await expect(sendOnce(dbs.notification, mailer.send(), message(key), { leaseMs: 1_000 })).rejects.toBeInstanceOf(SendInProgressError);
    await sleep(1_050);
    expect(await sendOnce(dbs.notification, mailer.send(), message(key), { leaseMs: 1_000 })).toMatchObject({ sent: true });
    expect(mailer.count(key)).toBe(1);
    expect((await row(key))?.status).toBe('sent');
  });

  it('a send the mailer refuses releases the lease, so the retry sends at once (not after the lease)', async () => {
    const mailer = new CountingMailer();
    const key = newKey();
    await expect(sendOnce(dbs.notification, mailer.send({ fail: true }), message(key))).rejects.toThrow('421');
    expect(await row(key)).toMatchObject({ status: 'pending', leaseToken: null, leaseUntil: null });
    // the default lease is 90 s: only a released lease lets this retry through now
    expect(await sendOnce(dbs.notification, mailer.send(), message(key))).toMatchObject({ sent: true });
    expect(mailer.count(key)).toBe(1);
  });

  it('a holder whose lease ran out and was taken over does not mark the new holder’s row sent', async () => {
    const mailer = new CountingMailer();
    const key = newKey();
    const slow = sendOnce(dbs.notification, mailer.send({ slowMs: 500 }), message(key), { leaseMs: 200 });
    await leased(key);
    await sleep(250);
    const second = sendOnce(dbs.notification, mailer.send({ slowMs: 1_000 }), message(key), { leaseMs: 5_000 });
    await slow; // handed off after its lease ran out: the documented duplicate
    expect((await row(key))?.status).toBe('pending');
    await second;
    expect((await row(key))?.status).toBe('sent');
    expect(mailer.count(key)).toBe(2);
  });

  it('20 concurrent attempts for one key send one email', async () => {
    const mailer = new CountingMailer();
    const key = newKey();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => sendOnce(dbs.notification, mailer.send({ slowMs: 100 }), message(key))));
    expect(results.filter((r) => r.status === 'fulfilled' && r.value.sent)).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(SendInProgressError);
    expect(await untilSettled(() => sendOnce(dbs.notification, mailer.send(), message(key)))).toMatchObject({ sent: false });
    expect(mailer.count(key)).toBe(1);
  });

  it('property: under random interleavings of attempts, slow sends, refused sends and crashes, a key gets at most one email unless a holder crashed after handing off, and a later attempt always gets it out', async () => {
    const LEASE_MS = 800;
    const attempt = fc.record({
      startMs: fc.integer({ min: 0, max: 250 }),
      // sends stay well inside the lease: the lease is sized to outlast the SMTP call
      slowMs: fc.integer({ min: 0, max: 120 }),
      outcome: fc.constantFrom('ok', 'ok', 'refused', 'crash_before_handoff', 'crash_after_handoff'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(attempt, { minLength: 1, maxLength: 8 }), async (attempts) => {
        const mailer = new CountingMailer();
        const key = newKey();
        let crashedAfterHandoff = 0;
        let sentTrue = 0;
        await Promise.all(
          attempts.map(async (a) => {
            await sleep(a.startMs);
            let crashed!: () => void;
            const crash = new Promise<void>((r) => (crashed = r));
            const send = mailer.send({
              slowMs: a.slowMs,
              fail: a.outcome === 'refused',
              crash: a.outcome === 'crash_before_handoff' ? 'before_handoff' : a.outcome === 'crash_after_handoff' ? 'after_handoff' : undefined,
              onCrash: () => {
                if (a.outcome === 'crash_after_handoff') crashedAfterHandoff += 1;
                crashed();
              },
            });
            // a crashed holder's call never settles: stop waiting for it once it has "died"
            await Promise.race([
              sendOnce(dbs.notification, send, message(key), { leaseMs: LEASE_MS }).then(
                (r) => (sentTrue += r.sent ? 1 : 0),
                () => undefined,
              ),
              crash,
            ]);
          }),
        );
        // the activity's later retries: they get through once every dead holder's lease expired
        await untilSettled(async () => {
          const r = await sendOnce(dbs.notification, mailer.send(), message(key), { leaseMs: LEASE_MS });
          sentTrue += r.sent ? 1 : 0;
          return r;
        });
        expect((await row(key))?.status).toBe('sent');
        expect(mailer.count(key)).toBeGreaterThanOrEqual(1);
        expect(mailer.count(key)).toBeLessThanOrEqual(1 + crashedAfterHandoff);
        expect(sentTrue).toBe(1);
      }),
      { numRuns: 20 },
    );
  });
});
