import { ApplicationFailure } from '@temporalio/activity';
import type { FailureCode } from '../domain/failures';

/**
 * A business outcome the workflow must not retry (declined card, out of stock, empty
 * cart). Its type is a code of the one list (domain/failures.ts); its first detail goes to
 * the client.
 */
export function businessFailure(code: FailureCode, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type: code,
    message,
    details: details === undefined ? [] : [details],
    nonRetryable: true,
  });
}
