import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError, type Payload } from '@temporalio/common';
import type { CheckoutInput } from '../workflows/messages';

/**
 * Which run of the cart's checkout workflow holds a checkout, asked of Temporal's durable
 * state when update-with-start gave no definite answer (an error that is not the workflow's
 * own refusal, or no answer within the wait): under load the server may answer
 * "Update-with-Start could not be executed … unexpected workflow task failure" for a start it
 * executed (the run goes on and places the order), and a call cut off by a lost reply looks
 * the same as one that never arrived.
 *
 * - `ours`: the workflow's running run was started with this checkout (its start input says
 *   so): attach to it.
 * - `another`: the running run is another checkout's (the cart's running checkout refuses
 *   this one: checkout_in_progress).
 * - `none`: Temporal answered, and no run of the workflow is running: nothing took this
 *   checkout, or its run closed (the checkout row then holds its answer).
 * - `unknown`: Temporal did not answer in time.
 */
export type CheckoutRun = { kind: 'ours'; runId: string } | { kind: 'another'; checkoutId: string } | { kind: 'none' } | { kind: 'unknown'; error: unknown };

export async function findCheckoutRun(client: Client, workflowId: string, checkoutId: string, deadline: Date): Promise<CheckoutRun> {
  try {
    return await client.withDeadline(deadline, async () => {
      const description = await client.workflow.getHandle(workflowId).describe();
      if (description.status.name !== 'RUNNING') return { kind: 'none' };
      const runId = description.runId;
      // the run's first event holds its start input (encrypted like every payload: decoded with the client's codec)
      const { history } = await client.workflowService.getWorkflowExecutionHistory({
        namespace: client.options.namespace,
        execution: { workflowId, runId },
        maximumPageSize: 1,
      });
      const payloads = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads;
      const input = await decodeFirst<CheckoutInput>(client, payloads ?? []);
      return input.checkoutId === checkoutId ? { kind: 'ours', runId } : { kind: 'another', checkoutId: input.checkoutId };
    });
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return { kind: 'none' };
    return { kind: 'unknown', error };
  }
}

/** The first payload, decoded as the client decodes (its codecs last to first, then its converter). */
async function decodeFirst<T>(client: Client, payloads: Payload[]): Promise<T> {
  const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
  let decoded = payloads;
  for (const codec of [...payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  const [first] = decoded;
  if (!first) throw new Error('the run has no start input');
  return payloadConverter.fromPayload<T>(first);
}
