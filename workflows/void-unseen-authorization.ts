import { log } from '@temporalio/workflow';
import type { AuthorizePaymentInput, MoneyReturned } from '../activities/payment';
import type { CheckoutFailure } from '../domain/checkout';
import { formatMoney, type Money } from '../domain/money';
import { mail, undo } from './checkout-calls';

/** The failure as the customer reads it: what happened to their money, as the gateway confirmed. */
export function withMoney(message: string, money: MoneyReturned): string {
  const sum = formatMoney(money.amount, money.currency);
  const base = message.replace(/; nothing was charged$/, '');
  if (money.action === 'refunded') return `${base}; ${sum} was refunded to your payment method`;
  if (money.action === 'voided') return `${base}; the authorization of ${sum} was released and nothing was charged`;
  return `${base}; nothing was charged`;
}

/** Workflow id of the void a failed checkout left behind (a child, ABANDON): support finds it by the checkout's id. */
export const unseenVoidWorkflowId = (checkoutId: string) => `unseen-void-${checkoutId}`;

export interface VoidUnseenAuthorizationInput {
  checkoutId: string;
  /** The checkout's void key (derived from the checkout workflow's id, as its own steps'). */
  voidKey: string;
  /** The authorize the checkout would have sent, under the same idempotency key and amount. */
  authorization: AuthorizePaymentInput;
  /** The failure the customer was answered with (before the void's word). */
  failure: CheckoutFailure;
  total?: Money;
  /** The customer had an answer before the failure (a 201, a 202, or past answerBy): mail the notice. */
  notify?: { email: string; orderId?: string };
}

/**
 * A checkout refused before its authorize step was registered (an expired hold, price_changed,
 * a cancel on a re-run) may still have sent an authorization from a lost workflow task. The
 * checkout answers, unlocks the cart and closes (the cart's next checkout starts a fresh run of
 * checkout-<cartId>); this child, started with parentClosePolicy ABANDON, finishes the money:
 * the payment store's attempt mark decides — none: the key is fenced off (abandoned); sent: the
 * authorize is re-sent under its key for the gateway's definite answer and voided. Retried
 * without a limit (undo), then the checkout's recorded failure says what the void found, and the
 * failure notice goes if it is due. docs/architecture.md, "Compensation order while the gateway is down".
 */
export async function voidUnseenAuthorizationWorkflow(input: VoidUnseenAuthorizationInput): Promise<MoneyReturned> {
  const { checkoutId } = input;
  const money = await undo.voidPayment({ checkoutId, idempotencyKey: input.voidKey, authorization: input.authorization, onlyIfAttempted: true });
  const told = { ...input.failure, message: withMoney(input.failure.message, money) };
  // (a correction only: a later run of the same checkout — a support Reset — may have placed it)
  // (an activity of the build before answered nothing: recorded)
  const recorded = (await undo.recordCheckoutFailure({ checkoutId, failure: told, total: input.total, onlyIfFailed: true }))?.recorded ?? true;
  if (input.notify && recorded) {
    await mail
      .sendCheckoutFailureNotice({ checkoutId, orderId: input.notify.orderId, email: input.notify.email, failure: told, money })
      .catch((e: unknown) => log.warn('failure notice not sent', { error: String(e) }));
  }
  return money;
}
