import { ApplicationFailure } from '@temporalio/activity';

/**
 * A business outcome the workflow must not retry (declined card, out of stock, empty
 * cart). Its type is the storefront's error code; its first detail goes to the client.
 */
export function businessFailure(code: string, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type: code,
    message,
    details: details === undefined ? [] : [details],
    nonRetryable: true,
  });
}
