/**
 * Support identities: who may act on orders, the catalog and stock, and the actor every
 * support action records (order history, the workflow's memo, the stock audit).
 */

/** `support`: retry, cancel, refund, list orders; `operations`: catalog and stock; `admin`: support tokens. */
export const SUPPORT_ROLES = ['support', 'operations', 'admin'] as const;
export type SupportRole = (typeof SUPPORT_ROLES)[number];

/** Who acted, as recorded (never the credential itself). */
export interface SupportActor {
  id: string;
  name: string;
}

/** The actor of a request, with what it may do (res.locals.actor). */
export interface AuthenticatedActor extends SupportActor {
  roles: readonly SupportRole[];
}

/** The break-glass identity of ADMIN_API_TOKEN (every role in dev/test, only `admin` in production). */
export const ADMIN_TOKEN_ACTOR: SupportActor = { id: 'admin-token', name: 'admin-token' };

/** A support action as the workflow's memo (`lastSupportAction`) shows it in the Web UI. */
export interface SupportActionNote {
  action: 'retry' | 'cancel' | 'refund';
  actor: SupportActor;
  /** Never set any more: the reason (free text) stays in the order's history, out of the memo. */
  reason?: string;
  /** For a refund: the refund whose refund_requested order event says why. */
  refundId?: string;
  at: string;
}
