import { cartActivities } from './carts';
import type { ActivityDeps } from './deps';
import { inventoryActivities } from './inventory';
import { notificationActivities } from './notifications';
import { orderActivities } from './orders';
import { paymentActivities } from './payment';

export type { ActivityDeps } from './deps';

/** Every activity, built from injected dependencies (see workers/main.ts). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...cartActivities(deps),
    ...inventoryActivities(deps),
    ...paymentActivities(deps),
    ...orderActivities(deps),
    ...notificationActivities(deps),
  };
}

export type OrderlyActivities = ReturnType<typeof createActivities>;
