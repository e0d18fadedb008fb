import { Metadata, status } from '@grpc/grpc-js';
import type { Stack } from './stack';

/** A gRPC error as the Temporal client sees one from the wire. */
export function grpcError(code: status, details: string): Error {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

/**
 * The API's first update-with-start is answered DEADLINE_EXCEEDED at once (a proxy's timeout),
 * and the server executes that same request later, when `release()` is called: sent outside the
 * API's call context, as a request already on the server is (the API's give-up abort no longer
 * reaches it). `landed()` resolves once it was executed (or refused). Later calls go through.
 */
export function lateFirstStart(stack: Stack): { release: () => void; landed: () => Promise<void> } {
  const service = stack.temporal.connection.workflowService;
  const original = service.executeMultiOperation.bind(service);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let late: Promise<unknown> | undefined;
  let first = true;
  service.executeMultiOperation = ((req: Parameters<typeof original>[0]) => {
    if (!first) return original(req);
    first = false;
    late = released.then(() => stack.temporal.connection.withAbortSignal(new AbortController().signal, () => original(req)));
    late.catch(() => undefined);
    return Promise.reject(grpcError(status.DEADLINE_EXCEEDED, 'upstream request timeout'));
  }) as typeof service.executeMultiOperation;
  return { release, landed: async () => void (await late?.catch(() => undefined)) };
}
