/**
 * Renders bench/results/scale-latest.json (bench/scale.ts) to PNG charts in docs/images/perf-*.png,
 * offline: Vega-Lite specs compiled by vega-lite, rendered to SVG by vega's headless View, then
 * to PNG by resvg. `node --import tsx bench/scale-plot.ts` re-renders from the saved figures.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
export const RESULTS = path.join(__dirname, 'results', 'scale-latest.json');
const IMAGES = path.join(ROOT, 'docs', 'images');

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 520, height: 280, background: 'white', config: { font: 'DejaVu Sans', axis: { labelFontSize: 12, titleFontSize: 13, labelLimit: 400 }, title: { fontSize: 15 }, legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 400 } } };

async function render(name: string, spec: Json): Promise<string> {
  // vega-lite's types resolve only under node16/bundler module resolution: its one function typed here
  const vl = (await import('vega-lite' as string)) as { compile: (spec: Json) => { spec: Json } };
  const vega = await import('vega');
  const { Resvg } = await import('@resvg/resvg-js');
  const view = new vega.View(vega.parse(vl.compile({ ...base, ...spec }).spec as never), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  fs.mkdirSync(IMAGES, { recursive: true });
  const file = path.join(IMAGES, `perf-${name}.png`);
  fs.writeFileSync(file, png);
  return path.relative(ROOT, file);
}

const rule = (y: number, label: string) => [
  { mark: { type: 'rule', strokeDash: [6, 4], color: '#c0392b' }, encoding: { y: { datum: y } } },
  { mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#c0392b' }, encoding: { x: { value: 0 }, y: { datum: y }, text: { value: label } } },
];

/** One chart per measured part present in the results; returns the files written. */
export async function plotScale(results: Json): Promise<string[]> {
  const files: string[] = [];
  const levels = (results.search?.levels ?? []) as Json[];
  if (levels.length > 0) {
    const xLog = { field: 'products', type: 'quantitative', scale: { type: 'log' }, title: 'products in the catalog (log scale)', axis: { values: levels.map((l) => l.products), format: '~s' } };
    const lines = (values: Json[], title: string, yTitle: string, target: number, targetLabel: string) => ({
      title,
      layer: [
        { data: { values }, mark: { type: 'line', point: true }, encoding: { x: xLog, y: { field: 'ms', type: 'quantitative', title: yTitle }, color: { field: 'series', type: 'nominal', title: null } } },
        ...rule(target, targetLabel),
      ],
    });
    files.push(
      await render(
        'search',
        lines(
          levels.flatMap((l) => [
            { products: l.products, ms: l.searchP50ms, series: 'search p50' },
            { products: l.products, ms: l.searchP99ms, series: 'search p99' },
            ...(l.engineP99ms !== undefined ? [{ products: l.products, ms: l.engineP99ms, series: 'Elasticsearch alone p99' }] : []),
            ...(l.engineSingleP99ms !== undefined ? [{ products: l.products, ms: l.engineSingleP99ms, series: 'Elasticsearch alone, one request with facets (before) p99' }] : []),
          ]),
          'Storefront search (GET /products) vs catalog size',
          'latency (ms)',
          100,
          'target p99 < 100 ms at 100k',
        ),
      ),
    );
    files.push(
      await render(
        'sync-lag',
        lines(
          levels.flatMap((l) => [
            { products: l.products, ms: l.syncLagP50ms, series: 'sync lag p50' },
            { products: l.products, ms: l.syncLagP99ms, series: 'sync lag p99' },
          ]),
          'Product change in PostgreSQL → found by search',
          'lag (ms)',
          2000,
          'target p99 < 2 s',
        ),
      ),
    );
    if (levels.every((l) => Number.isFinite(l.esCpuMsPerSearch))) {
      files.push(
        await render('search-cpu', {
          title: 'CPU time per search (steadier than latency on a shared machine)',
          data: {
            values: levels.flatMap((l) => [
              { products: l.products, ms: l.esCpuMsPerSearch, series: 'Elasticsearch node' },
              { products: l.products, ms: l.apiCpuMsPerSearch, series: 'API process' },
            ]),
          },
          mark: { type: 'line', point: true },
          encoding: { x: xLog, y: { field: 'ms', type: 'quantitative', title: 'CPU ms per search' }, color: { field: 'series', type: 'nominal', title: null } },
        }),
      );
    }
    files.push(
      await render('reindex', {
        title: 'Reindex (npm run reindex) time vs catalog size',
        layer: [
          { data: { values: levels.map((l) => ({ products: l.products, seconds: l.reindexSeconds })) }, mark: { type: 'line', point: true }, encoding: { x: xLog, y: { field: 'seconds', type: 'quantitative', title: 'seconds' } } },
          ...rule(120, 'target < 2 min at 100k'),
        ],
      }),
    );
  }
  const carts = results.carts as Json | undefined;
  if (carts) {
    const size = `${(carts.carts / 1e6).toLocaleString('en')}M carts`;
    const values = [
      { op: 'PUT line', redis: 'empty Redis', stat: 'p50', ms: carts.empty.putP50ms },
      { op: 'PUT line', redis: 'empty Redis', stat: 'p99', ms: carts.empty.putP99ms },
      { op: 'PUT line', redis: size, stat: 'p50', ms: carts.atSize.putP50ms },
      { op: 'PUT line', redis: size, stat: 'p99', ms: carts.atSize.putP99ms },
      { op: 'GET cart', redis: 'empty Redis', stat: 'p50', ms: carts.empty.getP50ms },
      { op: 'GET cart', redis: 'empty Redis', stat: 'p99', ms: carts.empty.getP99ms },
      { op: 'GET cart', redis: size, stat: 'p50', ms: carts.atSize.getP50ms },
      { op: 'GET cart', redis: size, stat: 'p99', ms: carts.atSize.getP99ms },
    ].map((v) => ({ ...v, series: `${v.op} ${v.stat}` }));
    files.push(
      await render('carts', {
        title: `Cart operations: empty Redis vs ${size} (${carts.bytesPerCart} B of Redis memory per cart)`,
        data: { values },
        mark: 'bar',
        encoding: {
          x: { field: 'series', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0 } },
          xOffset: { field: 'redis', sort: ['empty Redis', size] },
          y: { field: 'ms', type: 'quantitative', title: 'latency through the API (ms)' },
          color: { field: 'redis', type: 'nominal', title: null, sort: ['empty Redis', size] },
        },
      }),
    );
  }
  const perCall = carts?.redisMicrosecondsPerCall as { empty: Json; atSize: Json } | undefined;
  if (carts && perCall) {
    const size = `${(carts.carts / 1e6).toLocaleString('en')}M carts`;
    const names: Record<string, string> = { get: 'GET (read a cart)', evalsha: 'EVALSHA (cart write script)', set: 'SET (new cart)' };
    const values = Object.keys(names).flatMap((cmd) => [
      ...(perCall.empty[cmd] ? [{ cmd: names[cmd], redis: 'empty Redis', us: perCall.empty[cmd].usecPerCall }] : []),
      ...(perCall.atSize[cmd] ? [{ cmd: names[cmd], redis: size, us: perCall.atSize[cmd].usecPerCall }] : []),
    ]);
    files.push(
      await render('carts-redis', {
        title: `Redis's own time per cart command: empty vs ${size}`,
        data: { values },
        mark: 'bar',
        encoding: {
          x: { field: 'cmd', type: 'nominal', title: null, axis: { labelAngle: 0 } },
          xOffset: { field: 'redis', sort: ['empty Redis', size] },
          y: { field: 'us', type: 'quantitative', title: 'µs per call (INFO commandstats)' },
          color: { field: 'redis', type: 'nominal', title: null, sort: ['empty Redis', size] },
        },
      }),
    );
  }
  const checkout = results.checkout as Json | undefined;
  if (checkout?.points?.length) {
    files.push(
      await render('checkout-processes', {
        title: 'Checkout throughput vs API and worker processes',
        data: { values: (checkout.points as Json[]).map((p) => ({ ...p, apiLabel: `${p.apis} API process${p.apis > 1 ? 'es' : ''}`, workerLabel: `${p.workers} worker${p.workers > 1 ? 's' : ''}` })) },
        mark: 'bar',
        encoding: {
          x: { field: 'apiLabel', type: 'nominal', title: null, axis: { labelAngle: 0 } },
          xOffset: { field: 'workerLabel' },
          y: { field: 'perSecond', type: 'quantitative', title: `checkouts/s at concurrency ${checkout.points[0].concurrency}` },
          color: { field: 'workerLabel', type: 'nominal', title: null },
        },
      }),
    );
  }
  const recovery = results.recovery as Json | undefined;
  if (recovery?.per100kCarts) {
    const byTable = (recovery.per100kCarts.byTable as Json[]).filter((t) => t.mib > 0.05);
    files.push(
      await render('recovery', {
        title: `Temporal database per 100k open recovery workflows (extrapolated from ${recovery.workflows.toLocaleString('en')})`,
        data: { values: byTable.map((t) => ({ table: `${t.database === 'temporal' ? '' : 'visibility: '}${t.table}`, mib: t.mib, rows: t.rows })) },
        mark: 'bar',
        encoding: {
          y: { field: 'table', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 300 } },
          x: { field: 'mib', type: 'quantitative', title: `MiB (total ${recovery.per100kCarts.mib} MiB, ${recovery.per100kCarts.rows.toLocaleString('en')} rows)` },
          tooltip: [{ field: 'rows' }],
        },
      }),
    );
  }
  return files;
}

if (require.main === module) {
  plotScale(JSON.parse(fs.readFileSync(RESULTS, 'utf8')) as Json)
    .then((files) => console.log(files.join('\n')))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
