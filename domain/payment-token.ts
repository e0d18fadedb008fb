/**
 * What the service accepts as a means of payment: a gateway token (`tok_…`) or a payment
 * method id (`pm_…`), never a card number. The API's schema and the OpenAPI document use it.
 */
export const PAYMENT_TOKEN_PATTERN = /^(tok|pm)_[A-Za-z0-9_]{1,250}$/;
export const PAYMENT_TOKEN_DESCRIPTION = 'a payment token (tok_…) or payment method id (pm_…)';
