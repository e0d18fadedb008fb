import Stripe from 'stripe';
import type { Checkout } from '../db/schema/order';
import { getCheckout } from '../db/stores/checkouts';
import { checkoutOfGatewayRef, receiveOnce, type Delivery, type InboxOutcome } from '../db/stores/webhook-inbox';
import {
  disputeOf,
  gatewayEventSchema,
  handlingOf,
  intentIdOf,
  looksLikeCheckoutId,
  referenceOf,
  type EventHandling,
  type GatewayEvent,
} from '../domain/payment-events';
import { signalPaymentEvent, startPaymentFollowUp } from '../temporal/payment-events';
import type { UseCaseDeps } from './deps';
import { rejected, type Rejected } from './result';

export type ReceivedEvent =
  | { kind: 'accepted'; eventId: string; outcome: InboxOutcome | 'duplicate' }
  /** Not ours or not a type we act on: acknowledged, nothing written (not even the inbox). */
  | { kind: 'ignored'; eventId: string; why: string };

/** Where an event goes, decided before the inbox row is locked (reads only). */
type Route =
  | { kind: 'ignore'; why: string }
  | { kind: 'route'; handling: EventHandling; checkoutId: string; intentId: string | null; checkout: Checkout | undefined };

/**
 * POST /webhooks/stripe: verifies the signature over the raw bytes (endpoint secret and
 * timestamp tolerance), finds the checkout the event is about, records the event id in the
 * inbox and tells the owner once: the checkout's workflow (a wake-up signal: it re-reads the
 * payment at the gateway) or, for a refund or a dispute, a follow-up workflow. It never
 * writes an order or a payment row itself.
 */
export async function receivePaymentEvent(
  deps: Pick<UseCaseDeps, 'config' | 'dbs' | 'temporal' | 'logger'>,
  raw: Buffer,
  signature: string | undefined,
): Promise<ReceivedEvent | Rejected> {
  const verified = verify(raw, signature, deps.config.payment);
  if ('kind' in verified) return verified;
  const event = verified.event;
  try {
    const route = await routeOf(deps, event);
    if (route.kind === 'ignore') return { kind: 'ignored', eventId: event.id, why: route.why };
    const receipt = await receiveOnce(
      deps.dbs.payment,
      { eventId: event.id, type: event.type, objectId: route.intentId ?? objectIdOf(event), checkoutId: route.checkoutId },
      () => deliver(deps, event, route),
    );
    return { kind: 'accepted', eventId: event.id, outcome: receipt.duplicate ? 'duplicate' : receipt.outcome };
  } catch (err) {
    // nothing was recorded (the inbox row rolled back): the sender retries a non-2xx
    deps.logger.error({ err, eventId: event.id, type: event.type }, 'payment event not delivered');
    return rejected('service_unavailable', 'the event could not be recorded or delivered now; retry later');
  }
}

function verify(raw: Buffer, signature: string | undefined, payment: { webhookSecret: string; webhookToleranceSeconds: number }): { event: GatewayEvent } | Rejected {
  if (!signature) return rejected('webhook_signature_invalid', 'the Stripe-Signature header is missing');
  let parsed: unknown;
  try {
    parsed = Stripe.webhooks.constructEvent(raw, signature, payment.webhookSecret, payment.webhookToleranceSeconds);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      return rejected('webhook_signature_invalid', `the signature does not verify: ${err.message.split('.')[0] ?? 'mismatch'}`);
    }
    // the signature held, the bytes are not JSON
    return rejected('invalid_request', 'the event is not JSON', [{ field: '(body)', message: 'not JSON' }]);
  }
  const event = gatewayEventSchema.safeParse(parsed);
  if (!event.success) {
    const details = event.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
    return rejected('invalid_request', 'the body is not a gateway event', details);
  }
  return { event: event.data };
}

const objectIdOf = (event: GatewayEvent): string | null => (typeof event.data.object.id === 'string' ? event.data.object.id.slice(0, 255) : null);

/**
 * payment_intent.* names its checkout in `metadata.reference`; a charge or a dispute names
 * its payment intent, whose payment row names the checkout. A reference of our shape whose
 * checkout is not visible yet is still ours (routed when delivered again); anything else we
 * cannot place is foreign.
 */
async function routeOf({ dbs }: Pick<UseCaseDeps, 'dbs'>, event: GatewayEvent): Promise<Route> {
  const handling = handlingOf(event.type);
  if (!handling) return { kind: 'ignore', why: `events of type ${event.type} are not acted on` };
  const object = event.data.object;
  const intentId = intentIdOf(event.type, object) ?? null;
  const reference = referenceOf(object);
  const byReference = reference !== undefined && looksLikeCheckoutId(reference) ? reference : undefined;
  const byPayment = async () => (intentId ? await checkoutOfGatewayRef(dbs.payment, intentId) : undefined);
  const checkoutId = event.type.startsWith('payment_intent.') ? (byReference ?? (await byPayment())) : ((await byPayment()) ?? byReference);
  if (!checkoutId) return { kind: 'ignore', why: 'no checkout of ours is known for this payment' };
  if (handling !== 'wake_checkout' && !intentId) return { kind: 'ignore', why: 'the event names no payment intent' };
  return { kind: 'route', handling, checkoutId, intentId, checkout: await getCheckout(dbs.order, checkoutId) };
}

/** Runs under the inbox row's lock: Temporal calls only (receiveOnce). */
async function deliver(
  { temporal, config }: Pick<UseCaseDeps, 'temporal' | 'config'>,
  event: GatewayEvent,
  route: Extract<Route, { kind: 'route' }>,
): Promise<Delivery> {
  const { checkout } = route;
  if (!checkout) return { outcome: 'unrouted', delivered: false };
  if (route.handling !== 'wake_checkout' && route.intentId) {
    const input = {
      eventId: event.id,
      type: event.type,
      checkoutId: checkout.checkoutId,
      gatewayRef: route.intentId,
      ...(route.handling === 'flag_dispute' ? { dispute: disputeOf(event.data.object) } : {}),
    };
    await startPaymentFollowUp(temporal, config.temporal.taskQueue, input, checkout.orderId);
    return { outcome: 'follow_up_started', delivered: true };
  }
  if (checkout.status !== 'pending') return { outcome: 'checkout_closed', delivered: true };
  const sent = await signalPaymentEvent(temporal, checkout.workflowId, { eventId: event.id, checkoutId: checkout.checkoutId, type: event.type });
  return { outcome: sent === 'signalled' ? 'signalled_checkout' : 'workflow_not_running', delivered: true };
}
