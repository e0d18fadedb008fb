import { DefaultFailureConverter } from '@temporalio/common';

/**
 * The failure converter of Orderly's workers (the main thread and the workflow sandbox: a
 * module, so the bundle can load it; workers/main.ts and the tests' bundle include it). A
 * failure's message and stack trace go into its encoded attributes, a payload the codec
 * encrypts (temporal/codec.ts): an error text that quotes an email or a payment method — an
 * SMTP rejection, a gateway's "No such PaymentMethod" — is ciphertext in history too. Any
 * converter decodes them back (the SDK reads encoded attributes whatever its own setting).
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
