import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes support staff filter by in the Web UI (`OrderId = "…"`).
 * scripts/services.sh registers the same names at every Temporal start.
 */
export const OrderIdKey = defineSearchAttributeKey('OrderId', SearchAttributeType.KEYWORD);
export const CartIdKey = defineSearchAttributeKey('CartId', SearchAttributeType.KEYWORD);
/**
 * A keyed hash of the customer's email (temporal/codec.ts customerEmailHash), never the email:
 * visibility is not encrypted by the payload codec. Support computes it with POST /codec/email-hash.
 */
export const CustomerEmailHashKey = defineSearchAttributeKey('CustomerEmailHash', SearchAttributeType.KEYWORD);
export const CheckoutStatusKey = defineSearchAttributeKey('CheckoutStatus', SearchAttributeType.KEYWORD);
export const RefundStatusKey = defineSearchAttributeKey('RefundStatus', SearchAttributeType.KEYWORD);
