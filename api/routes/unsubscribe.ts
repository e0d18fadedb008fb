import { Router, type Request, type Response } from 'express';
import { optOut, verifyUnsubscribeToken, type UnsubscribeTokenCheck } from '../../db/stores/unsubscribe';
import type { AppDeps } from '../deps';
import { AppError, type ErrorCode } from '../errors';
import { parse } from '../validate';
import { unsubscribeQuerySchema, unsubscribeTokenSchema } from '../schemas/orders';

/**
 * The unsubscribe link of every cart reminder, RFC 8058 one-click: the mail carries
 * `List-Unsubscribe: <…/unsubscribe/TOKEN>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`;
 * the mail client's (or the page's) POST unsubscribes, idempotently. A GET only shows a page
 * with a button that POSTs: link scanners and prefetchers GET every link in a mail and must not
 * unsubscribe anyone. Tokens are signed and expire (UNSUBSCRIBE_TOKEN_TTL_DAYS): an expired one
 * is a 410 unsubscribe_link_expired, a forged one a 404 not_found, a malformed one a 400
 * invalid_request (a page to a browser, the JSON error to anyone else).
 *
 * Mounted before the JSON-only body guard (app.ts): the one-click POST is a form post
 * (application/x-www-form-urlencoded), whose body says nothing the path does not; it is not read.
 */
export function unsubscribeRouter({ dbs, config }: AppDeps): Router {
  const router = Router();
  const check = (token: string) => verifyUnsubscribeToken(config.recovery.unsubscribeSecret, token);

  // A well-formed token we did not sign is a link that does not exist: 404 (a malformed one failed the schema: 400).
  const refusal = (result: Exclude<UnsubscribeTokenCheck, { status: 'valid' }>, legacy = false) =>
    result.status === 'expired'
      ? new AppError('unsubscribe_link_expired', 'this unsubscribe link has expired; use the link in a newer reminder')
      : legacy
        ? new AppError('invalid_request', 'this unsubscribe link is not valid')
        : new AppError('not_found', 'no such unsubscribe link');

  const confirmPage = (req: Request, res: Response, token: string, action: string, legacy = false) => {
    const result = check(token);
    if (result.status !== 'valid') {
      // a browser gets a page; an API client the contract's JSON error
      if (req.accepts(['application/json', 'text/html']) === 'text/html') return sendPage(res, refusal(result, legacy));
      throw refusal(result, legacy);
    }
    res
      .status(200)
      .type('html')
      .set('Cache-Control', 'no-store')
      .send(
        page(
          'Unsubscribe from cart reminders?',
          `<p>No more cart reminders will be sent to <strong>${escapeHtml(result.email)}</strong>.</p>` +
            `<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>`,
        ),
      );
  };

  router.get('/:token', (req, res) => {
    const token = parse(unsubscribeTokenSchema, req.params.token, 'token');
    // an empty action posts back to this very URL, wherever a proxy mounted it
    confirmPage(req, res, token, '');
  });

  router.post('/:token', async (req, res) => {
    const token = parse(unsubscribeTokenSchema, req.params.token, 'token');
    const result = check(token);
    if (result.status !== 'valid') throw refusal(result);
    await optOut(dbs.notification, result.email);
    res.set('Cache-Control', 'no-store').format({
      'application/json': () => res.json({ unsubscribed: true, email: result.email }),
      'text/html': () => res.send(page('Unsubscribed', `<p>${escapeHtml(result.email)} will get no more cart reminders.</p>`)),
      default: () => res.json({ unsubscribed: true, email: result.email }),
    });
  });

  // Links mailed before the one-click change: the same confirm page, never an unsubscribe on GET.
  router.get('/', (req, res) => {
    const { token } = parse(unsubscribeQuerySchema, req.query, 'query');
    confirmPage(req, res, token, `unsubscribe/${encodeURIComponent(token)}`, true);
  });
  return router;
}

/** A refusal as a page for people (the status and code as the JSON answer would have them). */
function sendPage(res: Response, error: AppError): void {
  res.locals.errorCode = error.code satisfies ErrorCode;
  const text = error.code === 'unsubscribe_link_expired' ? 'This unsubscribe link has expired. Use the link in a newer reminder, or contact us.' : 'This unsubscribe link is not valid.';
  res.status(error.status).type('html').set('Cache-Control', 'no-store').send(page('Unsubscribe', `<p>${text}</p><p><code>${error.code}</code></p>`));
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
