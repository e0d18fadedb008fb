/**
 * Signed payment-gateway events (Stripe webhooks, and the local gateway's copies of them):
 * the envelope we read, which types we act on and how an event names its payment. The
 * webhook use case routes with these; the follow-up workflow's input lives here too.
 */
import { z } from 'zod';

/** The event envelope as we read it; every other field passes through unread. */
export const gatewayEventSchema = z.looseObject({
  id: z.string().min(1).max(255),
  object: z.literal('event'),
  type: z.string().min(1).max(255),
  created: z.number().int().optional(),
  livemode: z.boolean().optional(),
  data: z.looseObject({ object: z.record(z.string(), z.unknown()) }),
});
export type GatewayEvent = z.infer<typeof gatewayEventSchema>;

/**
 * What an event asks of us: wake the checkout waiting for this payment (it re-reads the
 * payment itself), re-sync our ledger from the gateway, or flag the order for support and
 * re-sync. A type not listed is acknowledged and ignored.
 */
export type EventHandling = 'wake_checkout' | 'sync_ledger' | 'flag_dispute';

const HANDLED: Record<string, EventHandling> = {
  'payment_intent.amount_capturable_updated': 'wake_checkout',
  'payment_intent.requires_action': 'wake_checkout',
  'payment_intent.processing': 'wake_checkout',
  'payment_intent.payment_failed': 'wake_checkout',
  'payment_intent.canceled': 'wake_checkout',
  'payment_intent.succeeded': 'wake_checkout',
  'charge.refunded': 'sync_ledger',
  'charge.dispute.created': 'flag_dispute',
};

export function handlingOf(type: string): EventHandling | undefined {
  return Object.hasOwn(HANDLED, type) ? HANDLED[type] : undefined;
}

export const HANDLED_EVENT_TYPES = Object.keys(HANDLED);

const idOf = (value: unknown): string | undefined => {
  if (typeof value === 'string' && value.length > 0 && value.length <= 255) return value;
  if (value !== null && typeof value === 'object' && 'id' in value) return idOf((value as { id: unknown }).id);
  return undefined;
};

/**
 * The payment intent an event is about: the object itself for payment_intent.*, its
 * `payment_intent` for a charge or a dispute (a string, or the expanded object).
 */
export function intentIdOf(type: string, object: Record<string, unknown>): string | undefined {
  return type.startsWith('payment_intent.') ? idOf(object.id) : idOf(object.payment_intent);
}

/** Our reference (the checkout id) as the gateway keeps it in the object's metadata. */
export function referenceOf(object: Record<string, unknown>): string | undefined {
  const metadata = object.metadata;
  if (metadata === null || typeof metadata !== 'object') return undefined;
  const reference = (metadata as Record<string, unknown>).reference;
  return typeof reference === 'string' ? reference : undefined;
}

/** Checkout ids are `chk_` and 128 random bits in base64url (db/ids.ts). */
const CHECKOUT_ID = /^chk_[A-Za-z0-9_-]{22}$/;

/** A reference of this shape is one of ours, even before its checkout row is visible. */
export function looksLikeCheckoutId(reference: string): boolean {
  return CHECKOUT_ID.test(reference);
}

/** A cardholder's dispute, as charge.dispute.created describes it. */
export interface DisputeNotice {
  id: string;
  reason: string;
  amount: number;
  currency: string;
}

export function disputeOf(object: Record<string, unknown>): DisputeNotice {
  return {
    id: idOf(object.id) ?? 'unknown',
    reason: typeof object.reason === 'string' ? object.reason.slice(0, 100) : 'unknown',
    amount: typeof object.amount === 'number' && Number.isInteger(object.amount) ? object.amount : 0,
    currency: typeof object.currency === 'string' ? object.currency.slice(0, 3).toUpperCase() : 'XXX',
  };
}

/** The follow-up workflow's input: one per event id (workflows/payment-follow-up.ts). */
export interface PaymentFollowUpInput {
  eventId: string;
  type: string;
  checkoutId: string;
  /** The gateway's payment (intent) id, re-read at the gateway. */
  gatewayRef: string;
  /** Only for charge.dispute.created: the order is flagged for support. */
  dispute?: DisputeNotice;
}

export interface PaymentFollowUpResult {
  /** The ledger's status after the re-sync, or why it was not re-synced. */
  ledger: { synced: true; status: string } | { synced: false; why: string };
  /** The order flagged for support (disputes only); null when the checkout has no order. */
  flaggedOrderId?: string | null;
}
