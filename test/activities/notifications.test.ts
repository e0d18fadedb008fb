import { randomBytes } from 'node:crypto';
import { createMailer, type Mailer } from '../../activities/gateways/mailer';
import { notificationActivities, type CheckoutFailureNoticeRequest } from '../../activities/notifications';
import { loadConfig } from '../../config';
import { createDatabases, type Databases } from '../../db/client';
import { SendInProgressError } from '../../db/stores/notification-outbox';
import { mailTo, renderedHtml, type CaughtMail } from '../helpers/mail';

type Mail = CaughtMail;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The one message `email` received (waits for it, then checks no second one follows). */
async function onlyMail(email: string): Promise<Mail> {
  const deadline = Date.now() + 10_000;
  while ((await mailTo(email)).length === 0 && Date.now() < deadline) await sleep(100);
  await sleep(300);
  const mails = await mailTo(email);
  expect(mails).toHaveLength(1);
  return mails[0] as Mail;
}

describe('sendCheckoutFailureNotice (real PostgreSQL outbox, real SMTP catcher)', () => {
  const config = loadConfig({ ...process.env, ORDERLY_MODE: 'test' });
  let dbs: Databases;
  let mailer: Mailer;
  let activities: ReturnType<typeof notificationActivities>;
  beforeAll(() => {
    dbs = createDatabases(config);
    mailer = createMailer(config.mail);
    activities = notificationActivities({ dbs, mailer, config });
  });
  afterAll(async () => {
    mailer?.close();
    await dbs?.close();
  });

  const notice = (overrides: Partial<CheckoutFailureNoticeRequest> = {}): CheckoutFailureNoticeRequest => {
    const id = randomBytes(6).toString('hex');
    return {
      checkoutId: `chk_${id}`,
      orderId: `ord_${id}`,
      email: `failed-${id}@example.com`,
      failure: { code: 'capture_refused', message: 'capture refused by the gateway (card_declined)' },
      money: { action: 'voided', amount: 4550, currency: 'USD' },
      ...overrides,
    };
  };

  /** Like Temporal: an attempt that finds the send in progress is retried later. */
  async function withRetries(req: CheckoutFailureNoticeRequest): Promise<{ sent: boolean }> {
    for (;;) {
      try {
        return await activities.sendCheckoutFailureNotice(req);
      } catch (err) {
        if (!(err instanceof SendInProgressError)) throw err;
        await sleep(100);
      }
    }
  }

  it('one email per checkout however often it is called, also concurrently', async () => {
    const req = notice();
    const results = await Promise.all(Array.from({ length: 8 }, () => withRetries(req)));
    results.push(await withRetries(req), await withRetries({ ...req, failure: { code: 'checkout_failed', message: 'other' } }));
    expect(results.filter((r) => r.sent)).toHaveLength(1);
    await onlyMail(req.email);
  });

  it('refunded: says what was refunded and when it shows up, links the order, and shows no internal code', async () => {
    const req = notice({ money: { action: 'refunded', amount: 12345, currency: 'EUR' } });
    await activities.sendCheckoutFailureNotice(req);
    const mail = await onlyMail(req.email);
    expect(mail.subject).toBe('We could not complete your order');
    expect(mail.text).toContain('We could not complete your order');
    expect(mail.text).toContain('Your card issuer declined the payment.');
    expect(mail.text).toContain('We refunded 123.45 EUR to your payment method; it usually appears within 5–10 business days.');
    expect(mail.text).not.toContain('not charged');
    expect(mail.text).toContain(`See your order: ${config.storefrontUrl}/orders/${req.orderId}`);
    expect(mail.html).toContain(`href="${config.storefrontUrl}/orders/${req.orderId}"`);
    for (const internal of ['capture_refused', 'card_declined', 'gateway']) {
      expect(mail.text).not.toContain(internal);
      expect(mail.html).not.toContain(internal);
    }
    // what MailDev's web UI shows the customer's HTML from: the HTML part as a page, the link intact
    const page = await renderedHtml(mail.id);
    expect(page.status).toBe(200);
    expect(page.contentType).toMatch(/^text\/html/);
    expect(page.body).toMatch(/^<html>/);
    expect(page.body).toContain('We could not complete your order');
    expect(page.body).toContain(`href="${config.storefrontUrl}/orders/${req.orderId}"`);
  });

  it('voided: the authorization was released and the customer was not charged', async () => {
    const req = notice({ money: { action: 'voided', amount: 4550, currency: 'USD' } });
    await activities.sendCheckoutFailureNotice(req);
    const mail = await onlyMail(req.email);
    expect(mail.text).toContain('The authorization of 45.50 USD on your card was released; you were not charged.');
    expect(mail.text).not.toContain('refunded');
  });

  it('none: not charged, and no order link when there is no order', async () => {
    const req = notice({ orderId: undefined, failure: { code: 'checkout_failed', message: 'activity StartToClose timeout' }, money: { action: 'none', amount: 0, currency: 'USD' } });
    await activities.sendCheckoutFailureNotice(req);
    const mail = await onlyMail(req.email);
    expect(mail.text).toContain('A problem on our side stopped your order from being completed.');
    expect(mail.text).toContain('You were not charged.');
    expect(mail.text).not.toMatch(/authorization|refunded|StartToClose|See your order/);
    expect(mail.html).not.toContain('<a ');
  });

  it('cancelled by support: says so with support’s reason, HTML-escaped in the HTML part', async () => {
    const req = notice({
      failure: { code: 'checkout_cancelled', message: 'cancelled by support: card reported <b>stolen</b> & "blocked"' },
      money: { action: 'refunded', amount: 999, currency: 'USD' },
    });
    await activities.sendCheckoutFailureNotice(req);
    const mail = await onlyMail(req.email);
    expect(mail.subject).toBe('Your order was cancelled');
    expect(mail.text).toContain('Our support team cancelled your order. The reason: card reported <b>stolen</b> & "blocked".');
    expect(mail.text).toContain('We refunded 9.99 USD');
    expect(mail.html).toContain('card reported &lt;b&gt;stolen&lt;/b&gt; &amp; &quot;blocked&quot;.');
    expect(mail.html).not.toContain('<b>stolen');
  });

  it('refuses a malformed request without sending (a non-retryable invalid_request)', async () => {
    const req = notice({ money: { action: 'refunded', amount: 12.5, currency: 'USD' } });
    await expect(activities.sendCheckoutFailureNotice(req)).rejects.toMatchObject({ type: 'invalid_request', nonRetryable: true });
    await sleep(300);
    expect(await mailTo(req.email)).toHaveLength(0);
  });
});
