import { allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, sleep, uuid4 } from '@temporalio/workflow';
import type { OrderlyActivities } from '../activities';
import type { RecommendationBuild } from '../domain/recommendations';
import { recommendationRecomputeStatusQuery, type RecommendationRecomputeSummary } from './messages';

/** Pages are idempotent (each order counted once per generation): retry them generously; past the budget this run fails and the Schedule starts the next. */
const batch = proxyActivities<OrderlyActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

const PAGE_SIZE = 500;
/** Pages per run before continue-as-new keeps the history bounded. */
const PAGES_PER_RUN = 20;
/** How long the replaced generation stays readable after the swap (a reader may hold the old pointer). */
const RETIRE_AFTER_SECONDS = 60;

export interface RecommendationRecomputeInput {
  pageSize?: number;
  pagesPerRun?: number;
  retireAfterSeconds?: number;
  /** Carried across continue-as-new: the generation being built and where the paging stands. */
  build?: RecommendationBuild;
  cursor?: string;
  summary?: RecommendationRecomputeSummary;
}

/**
 * Started by the `recommendations-recompute` Schedule: rebuilds the "also bought" scores and
 * category bestsellers from every standing sale (keyset pages of orders), into a new
 * generation that readers do not see until it is complete, then swaps it in and, after a
 * grace, drops the old one. The cursor rides in continue-as-new's arguments and in the
 * history, so a worker that dies mid-run is replaced by one that goes on from the last
 * finished page; a page that ran twice counts nothing twice.
 */
export async function recommendationRecomputeWorkflow(input: RecommendationRecomputeInput = {}): Promise<RecommendationRecomputeSummary> {
  const pageSize = input.pageSize ?? PAGE_SIZE;
  const pagesPerRun = input.pagesPerRun ?? PAGES_PER_RUN;
  const summary: RecommendationRecomputeSummary = input.summary ?? { pages: 0, orders: 0, counted: 0, runs: 0, published: false };
  summary.runs += 1;
  setHandler(recommendationRecomputeStatusQuery, () => summary);

  let build = input.build;
  if (!build) {
    build = await batch.beginRecommendationBuild({ generation: uuid4().replace(/-/g, '').slice(0, 16) });
    summary.generation = build.generation;
    // Generations left by a terminated build are dropped before this one grows.
    await batch.dropStaleRecommendationGenerations();
  }
  let cursor = input.cursor;
  for (let page = 0; page < pagesPerRun; page++) {
    const result = await batch.countPurchasesForRecommendations({ build, after: cursor, limit: pageSize });
    summary.pages += 1;
    summary.orders += result.orders;
    summary.counted += result.counted;
    cursor = result.last ?? cursor;
    if (result.done) {
      await batch.publishRecommendationBuild(build);
      summary.published = true;
      await sleep(`${input.retireAfterSeconds ?? RETIRE_AFTER_SECONDS}s`);
      await batch.dropStaleRecommendationGenerations();
      return summary;
    }
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof recommendationRecomputeWorkflow>({ ...input, build, cursor, summary });
}
