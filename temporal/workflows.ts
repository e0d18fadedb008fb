import { WithStartWorkflowOperation, type Client, type WorkflowIdConflictPolicy, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
// Types only: callers of the Temporal client never load workflow code.
import type * as workflows from '../workflows';

type Workflows = typeof workflows;

/** The workflow types the worker registers (workflows/index.ts), by name. */
export type WorkflowName = { [N in keyof Workflows]: Workflows[N] extends Workflow ? N : never }[keyof Workflows];

/** The function type behind a workflow name: what its arguments and result are checked against. */
export type WorkflowOf<N extends WorkflowName> = Extract<Workflows[N], Workflow>;

/**
 * Starts a workflow by its registered name. The name must be one the worker registers and
 * `options.args` must match that function's parameters: a typo or a wrong input is a type error.
 */
export function startWorkflow<N extends WorkflowName>(client: Client, name: N, options: WorkflowStartOptions<WorkflowOf<N>>) {
  return client.workflow.start<WorkflowOf<N>>(name, options);
}

/** The start half of an update-with-start, typed like startWorkflow. */
export function withStartOperation<N extends WorkflowName>(
  name: N,
  options: WorkflowStartOptions<WorkflowOf<N>> & { workflowIdConflictPolicy: WorkflowIdConflictPolicy },
): WithStartWorkflowOperation<WorkflowOf<N>> {
  return new WithStartWorkflowOperation<WorkflowOf<N>>(name, options);
}

/** Signal-with-start by registered name, with the workflow's arguments type-checked. */
export function signalWithStartWorkflow<N extends WorkflowName, SignalArgs extends unknown[]>(
  client: Client,
  name: N,
  options: Parameters<typeof client.workflow.signalWithStart<WorkflowOf<N>, SignalArgs>>[1],
) {
  return client.workflow.signalWithStart<WorkflowOf<N>, SignalArgs>(name, options);
}
