/**
 * `npm run bench:scale` (scripts/bench-scale.sh; also `npm run bench -- --scale`): cost curves, how
 * cost grows with the size of the shop. Parts, in this order (SCALE_ONLY=search,carts,… runs some):
 *   search    search p50/p99 and sync lag at 1k / 10k / 100k products, reindex time (bench/scale-search.ts)
 *   carts     Redis memory per cart and cart operations at 1M carts (bench/scale-carts.ts)
 *   recovery  open recovery workflows: rows and bytes in the Temporal database (bench/scale-recovery.ts)
 *   checkout  checkout throughput vs 1/2 API and 1/2 worker processes (bench/scale-checkout.ts)
 * SCALE=quick runs reduced sizes (bench/scale-mode.ts). Results are merged into
 * bench/results/scale-latest.json (a part not run keeps its previous figures), then charted to
 * docs/images/perf-*.png (bench/scale-plot.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../temporal/codec';
import { measureCarts } from './scale-carts';
import { measureCheckoutProcesses } from './scale-checkout';
import { scaleMode } from './scale-mode';
import { plotScale, RESULTS } from './scale-plot';
import { measureRecovery } from './scale-recovery';
import { measureSearch } from './scale-search';

// The Temporal runtime's logger (errors only) is installed by bench/servers.ts, imported by the parts.

const PARTS = ['search', 'carts', 'recovery', 'checkout'] as const;
type Part = (typeof PARTS)[number];

async function main() {
  const mode = scaleMode();
  const only = process.env.SCALE_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown?.length) throw new Error(`unknown SCALE_ONLY part(s): ${unknown.join(', ')} (parts: ${PARTS.join(', ')})`);
  const parts = PARTS.filter((p) => !only || only.includes(p));
  const silent = () => undefined;
  let bundle: { code: string } | undefined;
  const workflows = async () =>
    (bundle ??= await bundleWorkflowCode({
      workflowsPath: require.resolve('../workflows'),
      failureConverterPath: FAILURE_CONVERTER_PATH,
      logger: { log: silent, trace: silent, debug: silent, info: silent, warn: silent, error: (m: string) => console.error(m) },
    }));
  const previous = fs.existsSync(RESULTS) ? (JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {};
  const results: Record<string, unknown> = { ...previous };
  const save = () => fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  const started = performance.now();
  for (const part of parts as Part[]) {
    const t = performance.now();
    process.stdout.write(`[scale] ${part} (${mode.name})…\n`);
    const measured =
      part === 'search'
        ? await measureSearch(mode, await workflows())
        : part === 'carts'
          ? await measureCarts(mode)
          : part === 'recovery'
            ? await measureRecovery(mode, await workflows())
            : await measureCheckoutProcesses(mode);
    results[part] = { mode: mode.name, at: new Date().toISOString(), seconds: Math.round((performance.now() - t) / 1000), ...measured };
    results.at = new Date().toISOString();
    results.machine = `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? ''}, node ${process.version}; PostgreSQL 15, Redis, Elasticsearch 8.19 single node (jar-launched, 512 MiB heap), Temporal ${process.env.TEMPORAL_SERVER === 'cluster' ? 'server built from Go on PostgreSQL' : 'CLI dev server'}, all on this machine`;
    results.command = 'npm run bench:scale' + (mode.name === 'quick' ? ' (SCALE=quick)' : '');
    save();
  }
  const files = await plotScale(results);
  process.stdout.write(`[scale] done in ${Math.round((performance.now() - started) / 1000)} s: ${RESULTS}\n${files.map((f) => `  ${f}`).join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
