import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { createApiMetrics } from '../../api/metrics';
import type { Databases } from '../../db/client';

/**
 * deploy/monitoring/alerts.yml and grafana-dashboard.json, checked offline: the rule file's
 * shape as Prometheus loads it, and every metric an expression reads is one that Orderly
 * exports — the API's registry (built here), the Temporal SDK's metrics (names compiled into
 * the core bridge this project runs), and the worker's own counters (activities' metricMeter).
 */
const ROOT = path.resolve(__dirname, '../..');
const read = (p: string) => fs.readFileSync(path.join(ROOT, p), 'utf8');

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group', 'limitk']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression reads (strings, label matchers, ranges and label lists removed first). */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1');
  const names: string[] = [];
  for (const m of s.matchAll(/(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const after = s.slice((m.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(') || AGGREGATIONS.has(word) || KEYWORDS.has(word.toLowerCase())) continue;
    names.push(word);
  }
  return names;
}

/** Balanced (), {} and [] outside strings: the cheapest syntax check that catches an edit gone wrong. */
function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  const stack: string[] = [];
  for (const ch of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('({['.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0;
}

/** What the API's registry exports (names as scraped: histograms as _bucket/_sum/_count). */
function apiMetricNames(): Set<string> {
  const { registry } = createApiMetrics({} as Databases, { processMetrics: true });
  const names = new Set<string>();
  for (const metric of registry.getMetricsAsArray() as unknown as { name: string; type: string }[]) {
    if (metric.type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
    else names.add(metric.name);
  }
  registry.clear();
  return names;
}

/** The Temporal core's metric names are string constants in the native module this project loads. */
const nativeModule = (() => {
  const releases = path.join(ROOT, 'node_modules/@temporalio/core-bridge/releases');
  const triple = { x64: 'x86_64', arm64: 'aarch64' }[process.arch as 'x64' | 'arm64'];
  const dir = fs.readdirSync(releases).find((d) => d.startsWith(`${triple}-`) && d.includes(process.platform === 'darwin' ? 'apple' : 'linux'));
  return fs.readFileSync(path.join(releases, dir ?? '', 'index.node')).toString('latin1');
})();

/** Counters the worker's activities create on the runtime's meter (exported as <name>_total, without the SDK's prefix). */
const workerCounters = new Set(
  fs
    .readdirSync(path.join(ROOT, 'activities'))
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...read(`activities/${f}`).matchAll(/createCounter\('(\w+)'/g)].map((m) => `${m[1]}_total`)),
);

const api = apiMetricNames();

/** Why a name is not exported, or undefined when it is. */
function unknownMetric(name: string): string | undefined {
  if (name === 'up') return undefined; // Prometheus's own, per scrape target
  if (workerCounters.has(name)) return undefined;
  if (name.startsWith('orderly_')) return api.has(name) ? undefined : `${name} is exported neither by the API's registry nor by a worker activity`;
  if (name.startsWith('temporal_')) {
    // The worker exports counters with _total and durations (histograms) in seconds without a unit suffix (workers/worker.ts).
    const base = name.replace(/^temporal_/, '').replace(/_(total|bucket|sum|count)$/, '');
    return nativeModule.includes(base) ? undefined : `${name}: no SDK metric "${base}"`;
  }
  return `${name}: neither an Orderly nor a Temporal SDK metric`;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

describe('monitoring files: the alert rules and the Grafana dashboard read only metrics Orderly exports', () => {
  const rules = parse(read('deploy/monitoring/alerts.yml')) as { groups: { name: string; rules: Rule[] }[] };
  const dashboard = JSON.parse(read('deploy/monitoring/grafana-dashboard.json')) as {
    uid: string;
    title: string;
    __inputs: { name: string }[];
    panels: { id: number; type: string; title: string; gridPos: object; datasource?: { uid: string }; targets?: { expr: string; refId: string }[] }[];
  };
  const alerts = rules.groups.flatMap((g) => g.rules);
  const panelTargets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('the rule file has the shape Prometheus loads: named groups of alerts with expr, for, severity and annotations', () => {
    expect(rules.groups.length).toBeGreaterThan(0);
    expect(new Set(rules.groups.map((g) => g.name)).size).toBe(rules.groups.length);
    for (const rule of alerts) {
      expect({ rule: rule.alert, ok: typeof rule.alert === 'string' && /^Orderly[A-Z]\w+$/.test(rule.alert) }).toEqual({ rule: rule.alert, ok: true });
      expect(Object.keys(rule).every((k) => ['alert', 'expr', 'for', 'labels', 'annotations', 'keep_firing_for'].includes(k))).toBe(true);
      expect(typeof rule.expr === 'string' && rule.expr.trim().length > 0 && balanced(rule.expr)).toBe(true);
      expect(String(rule.for)).toMatch(/^\d+[smhd]$/);
      expect(['info', 'warning', 'critical']).toContain(rule.labels?.severity);
      expect(typeof rule.annotations?.summary).toBe('string');
      expect(typeof rule.annotations?.description).toBe('string');
    }
    expect(new Set(alerts.map((r) => r.alert)).size).toBe(alerts.length);
  });

  it("covers what Temporal says a worker must watch and the shop's business signals", () => {
    const reads = (alert: string) => metricNames(String(alerts.find((r) => r.alert === alert)?.expr ?? ''));
    expect(reads('OrderlyWorkflowTaskScheduleToStartHigh')).toContain('temporal_workflow_task_schedule_to_start_latency_bucket');
    expect(reads('OrderlyActivityScheduleToStartHigh')).toContain('temporal_activity_schedule_to_start_latency_bucket');
    expect(reads('OrderlyWorkerTaskSlotsExhausted')).toEqual(['temporal_worker_task_slots_available']);
    expect(reads('OrderlyWorkerPollSuccessLow')).toEqual(expect.arrayContaining(['temporal_workflow_task_queue_poll_empty_total', 'temporal_activity_poll_no_task_total']));
    expect(reads('OrderlyCheckoutsFailing')).toContain('orderly_checkouts_total');
    expect(reads('OrderlyOrdersParked')).toEqual(['orderly_orders_needing_attention']);
    expect(reads('OrderlySearchLag')).toEqual(['orderly_search_outbox_oldest_seconds']);
  });

  it('every metric an alert or a dashboard panel reads is exported', () => {
    const problems = [
      ...alerts.flatMap((r) => metricNames(String(r.expr)).map((n) => [`alert ${r.alert}`, unknownMetric(n)])),
      ...panelTargets.flatMap((t) => metricNames(t.expr).map((n) => [`panel ${t.panel}`, unknownMetric(n)])),
    ].filter(([, problem]) => problem !== undefined);
    expect(problems).toEqual([]);
  });

  it('catches a misspelled or invented metric (the check above can fail)', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(temporal_workflow_task_schedul_to_start_latency_bucket{task_queue="x"}[5m]))) > 0.2')).toEqual([
      'temporal_workflow_task_schedul_to_start_latency_bucket',
    ]);
    expect(unknownMetric('temporal_workflow_task_schedul_to_start_latency_bucket')).toBeDefined();
    expect(unknownMetric('orderly_checkout_total')).toBeDefined();
    expect(unknownMetric('orderly_checkouts_total')).toBeUndefined();
    expect(balanced('sum(rate(x[5m])')).toBe(false);
  });

  it('the dashboard is an importable Grafana dashboard: a uid, a Prometheus datasource input, unique panel ids, a query per panel', () => {
    expect(dashboard.uid).toBe('orderly-overview');
    expect(dashboard.__inputs.map((i) => i.name)).toContain('DS_PROMETHEUS');
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid).toBe('${DS_PROMETHEUS}');
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) expect(balanced(t.expr)).toBe(true);
    }
  });
});
