import { sendOnce } from '../db/stores/notification-outbox';
import type { PricedCart } from '../domain/cart';
import type { ActivityDeps } from './deps';
import { businessFailure } from './failures';
import { escapeHtml, formatMoney, render } from './templates/render';

/** What the checkout workflow passes when an order fails or is cancelled after the storefront's answer. */
export interface CheckoutFailureNoticeRequest {
  checkoutId: string;
  orderId?: string;
  email: string;
  failure: { code: string; message: string };
  /** What happened to the customer's money; amount in minor units. */
  money: { action: 'none' | 'voided' | 'refunded'; amount: number; currency: string };
}

/** The customer's words for a failure: never the internal code or a raw error message. */
const PLAIN_REASONS: Record<string, string> = {
  payment_declined: 'Your card issuer declined the payment.',
  payment_action_expired: "The payment was not completed in time: your card's security check (3-D Secure) was not finished.",
  payment_method_invalid: 'The payment method could not be used.',
  capture_refused: 'Your card issuer declined the payment.',
  out_of_stock: 'Some of the items are no longer in stock.',
  price_changed: 'The prices changed while your order was being placed.',
  payment_unavailable: 'Our payment provider was unavailable for a moment; please try again shortly.',
};

/** Support's own reason for a cancellation, when it gave one (the workflow prefixes it). */
function supportReason(message: string): string | undefined {
  const reason = message.replace(/^cancelled by support:\s*/i, '').trim();
  if (!reason || /^(cancelled by support|the checkout was cancelled)$/i.test(reason)) return undefined;
  return /[.!?]$/.test(reason) ? reason : `${reason}.`;
}

/** A cancellation no one decided (the workflow writes "cancelled: <why>"), e.g. an expired authorization. */
function expiredReason(message: string): string | undefined {
  const m = /^cancelled:\s*(.+)$/i.exec(message);
  if (!m?.[1]) return undefined;
  const why = m[1].replace(/; nothing was charged$/, '').trim();
  return `We had to cancel your order: ${why}${/[.!?]$/.test(why) ? '' : '.'}`;
}

function failureWording(req: CheckoutFailureNoticeRequest): { subject: string; headline: string; reason: string; money: string } {
  const cancelled = req.failure.code === 'checkout_cancelled';
  const given = cancelled ? supportReason(req.failure.message) : undefined;
  const amount = formatMoney(req.money.amount, req.money.currency);
  const money = {
    refunded: `We refunded ${amount} to your payment method; it usually appears within 5–10 business days.`,
    voided: `The authorization of ${amount} on your card was released; you were not charged.`,
    none: 'You were not charged.',
  }[req.money.action];
  return cancelled
    ? {
        subject: 'Your order was cancelled',
        headline: 'Your order was cancelled',
        reason: expiredReason(req.failure.message) ?? (given ? `Our support team cancelled your order. The reason: ${given}` : 'Our support team cancelled your order.'),
        money,
      }
    : {
        subject: 'We could not complete your order',
        headline: 'We could not complete your order',
        reason: PLAIN_REASONS[req.failure.code] ?? 'A problem on our side stopped your order from being completed.',
        money,
      };
}

function assertValidNotice(req: CheckoutFailureNoticeRequest): void {
  const { action, amount, currency } = req.money;
  if (!['none', 'voided', 'refunded'].includes(action)) throw businessFailure('invalid_request', `unknown money action ${String(action)}`);
  if (!Number.isSafeInteger(amount) || amount < 0 || !/^[A-Z]{3}$/.test(currency)) {
    throw businessFailure('invalid_request', 'money must be a non-negative integer amount in minor units with an ISO currency');
  }
  if (!req.checkoutId || !req.email.includes('@')) throw businessFailure('invalid_request', 'a checkout id and an email are required');
}

export function notificationActivities({ dbs, mailer, config }: Pick<ActivityDeps, 'dbs' | 'mailer' | 'config'>) {
  const orderUrl = (orderId: string) => `${config.storefrontUrl}/orders/${encodeURIComponent(orderId)}`;
  return {
    /** The order confirmation, sent once per order whatever the retries. */
    async sendOrderConfirmation(req: { orderId: string; checkoutId: string; email: string; cart: PricedCart }): Promise<{ sent: boolean }> {
      const total = formatMoney(req.cart.total.amount, req.cart.total.currency);
      const lineText = (l: PricedCart['lines'][number]) => `${l.quantity} × ${l.name} (${l.sku}): ${formatMoney(l.lineTotal.amount, l.lineTotal.currency)}`;
      const vars = {
        orderId: req.orderId,
        total,
        orderUrl: orderUrl(req.orderId),
        lines: req.cart.lines.map(lineText).join('\n'),
        linesHtml: req.cart.lines.map((l) => `<li>${escapeHtml(lineText(l))}</li>`).join(''),
      };
      const result = await sendOnce(dbs.notification, (m) => mailer.send(m), {
        idempotencyKey: `order-confirmation:${req.orderId}`,
        kind: 'order_confirmation',
        recipient: req.email,
        subject: `Your order ${req.orderId}`,
        text: render('order-confirmation.txt', vars),
        html: render('order-confirmation.html', vars),
        payload: { orderId: req.orderId, checkoutId: req.checkoutId },
      });
      return { sent: result.sent };
    },

    /**
     * Tells the customer, once per checkout, that the order failed or was cancelled after the
     * storefront's answer, and what happened to the money. `sent` is true for the call that
     * sent it, false when an earlier call already had.
     */
    async sendCheckoutFailureNotice(req: CheckoutFailureNoticeRequest): Promise<{ sent: boolean }> {
      assertValidNotice(req);
      const wording = failureWording(req);
      const link = req.orderId ? orderUrl(req.orderId) : undefined;
      const vars = {
        ...wording,
        orderLink: link ? `See your order: ${link}` : '',
        orderLinkHtml: link ? `<p><a href="${escapeHtml(link)}">See your order</a></p>` : '',
      };
      const result = await sendOnce(dbs.notification, (m) => mailer.send(m), {
        idempotencyKey: `checkout-failed:${req.checkoutId}`,
        kind: 'checkout_failed',
        recipient: req.email,
        subject: wording.subject,
        text: render('checkout-failed.txt', vars),
        html: render('checkout-failed.html', vars),
        payload: { checkoutId: req.checkoutId, orderId: req.orderId ?? null, failureCode: req.failure.code, money: req.money },
      });
      return { sent: result.sent };
    },
  };
}
