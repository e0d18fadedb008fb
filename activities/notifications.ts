import { sendOnce } from '../db/stores/notification';
import type { PricedCart } from '../workflows/messages';
import type { ActivityDeps } from './deps';
import { formatMoney, render } from './templates/render';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function notificationActivities({ dbs, mailer, config }: ActivityDeps) {
  return {
    /** The order confirmation, sent once per order whatever the retries. */
    async sendOrderConfirmation(req: { orderId: string; checkoutId: string; email: string; cart: PricedCart }): Promise<{ sent: boolean }> {
      const orderUrl = `${config.storefrontUrl}/orders/${encodeURIComponent(req.orderId)}`;
      const total = formatMoney(req.cart.total.amount, req.cart.total.currency);
      const lineText = (l: PricedCart['lines'][number]) => `${l.quantity} × ${l.name} (${l.sku}): ${formatMoney(l.lineTotal.amount, l.lineTotal.currency)}`;
      const vars = {
        orderId: req.orderId,
        total,
        orderUrl,
        lines: req.cart.lines.map(lineText).join('\n'),
        linesHtml: req.cart.lines.map((l) => `<li>${escape(lineText(l))}</li>`).join(''),
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
  };
}
