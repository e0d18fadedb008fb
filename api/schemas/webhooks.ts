import { z } from 'zod';
import { gatewayEventSchema, HANDLED_EVENT_TYPES } from '../../domain/payment-events';

/** POST /webhooks/stripe's body: a Stripe event, read from its raw bytes once the signature verified. */
export const webhookEventSchema = gatewayEventSchema.describe(
  `A Stripe event (or the local gateway's copy). Acted on: ${HANDLED_EVENT_TYPES.join(', ')}; any other type is acknowledged and ignored.`,
);

/** What the endpoint answers a verified event: Stripe only reads the status. */
export const webhookReceiptSchema = z
  .looseObject({
    received: z.literal(true),
    eventId: z.string(),
    outcome: z
      .enum(['signalled_checkout', 'follow_up_started', 'checkout_closed', 'workflow_not_running', 'unrouted', 'duplicate'])
      .optional()
      .describe('what became of an event of ours (absent when ignored)'),
    ignored: z.string().optional().describe('why an event that is not ours, or of a type not acted on, was acknowledged without effect'),
  })
  .meta({ id: 'WebhookReceipt' });
