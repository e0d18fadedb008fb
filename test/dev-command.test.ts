import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/**
 * Ports free now and below the kernel's ephemeral range (32768+ here): dev.sh binds some of them
 * tens of seconds later (the worker's metrics port after Temporal and Elasticsearch are up), and
 * a port the kernel hands out for listen(0) or an outgoing connection of a suite running beside
 * this one can be taken by then (a CI run failed with EADDRINUSE on the worker's metrics port).
 */
async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (ports.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) ports.push(port);
  }
  return ports;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm run dev (scripts/dev.sh)', () => {
  it('brings the whole service up (health 200 with every check ok, the seed catalog searchable in Elasticsearch), then stops every process it started', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'orderly-dev-'));
    fs.chmodSync(dataDir, 0o755);
    const [api, pg, redis, temporal, ui, smtp, mailUi, stripe, es, metrics, workerMetrics, stripeHttps] = await freePorts(12);
    const dev = spawn('bash', [path.join(ROOT, 'scripts/dev.sh')], {
      cwd: ROOT,
      env: {
        ...process.env,
        ORDERLY_MODE: 'dev',
        ORDERLY_DATA_DIR: dataDir,
        PORT: String(api),
        PG_PORT: String(pg),
        REDIS_PORT: String(redis),
        TEMPORAL_PORT: String(temporal),
        TEMPORAL_UI_PORT: String(ui),
        SMTP_PORT: String(smtp),
        MAIL_UI_PORT: String(mailUi),
        STRIPE_MOCK_PORT: String((stripe ?? 40000) % 60000),
        // stripe-mock's HTTPS port too: the port after the HTTP one may be another of these
        STRIPE_MOCK_HTTPS_PORT: String(stripeHttps),
        ES_PORT: String(es),
        // not dev.sh's fixed 9464/9465: other suites run at the same time
        METRICS_PORT: String(metrics),
        WORKER_METRICS_PORT: String(workerMetrics),
        PG_FAST: '1',
        LOG_LEVEL: 'warn',
        DATABASE_URL: '',
        REDIS_URL: '',
        TEMPORAL_ADDRESS: '',
        ELASTICSEARCH_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    dev.stdout.on('data', (d: Buffer) => (output += d.toString()));
    dev.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      let health: { status: number; body: unknown } | undefined;
      const deadline = Date.now() + 180_000;
      while (Date.now() < deadline && dev.exitCode === null) {
        if (!output.includes('Orderly is up')) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        try {
          const res = await fetch(`http://127.0.0.1:${api}/health`);
          health = { status: res.status, body: await res.json() };
          if (res.status === 200) break;
        } catch {
          /* not up yet */
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      // what dev.sh said, when it never answered (it exited, or never got up)
      if (!health) throw new Error(`no health answer (dev.sh exit code ${dev.exitCode}); its output ends:\n${output.slice(-4000)}`);
      expect(health).toEqual({
        status: 200,
        body: {
          status: 'ok',
          checks: { postgres: 'ok', redis: 'ok', temporal: 'ok', search: 'ok' },
          breakers: Object.fromEntries(['payment_gateway', 'smtp', 'search'].map((name) => [name, expect.objectContaining({ state: 'closed' })])),
        },
      });
      expect(output).toContain('Temporal UI');
      const seeded = await (await fetch(`http://127.0.0.1:${api}/products?limit=100`)).json();
      expect((seeded as { items: unknown[] }).items.length).toBeGreaterThanOrEqual(30);
      // the worker's search sync indexes the seed catalog (the outbox the seed filled)
      let engine: string | null = null;
      let found = 0;
      const searchDeadline = Date.now() + 30_000;
      while (Date.now() < searchDeadline && !(engine === 'elasticsearch' && found > 0)) {
        const res = await fetch(`http://127.0.0.1:${api}/products?q=coffee`);
        engine = res.headers.get('x-search-engine');
        found = ((await res.json()) as { items: unknown[] }).items.length;
        if (!(engine === 'elasticsearch' && found > 0)) await new Promise((r) => setTimeout(r, 300));
      }
      expect({ engine, found: found > 0 }).toEqual({ engine: 'elasticsearch', found: true });

      const pids = Object.fromEntries(
        ['api', 'worker', 'temporal', 'elasticsearch', 'redis', 'postgres', 'smtp', 'stripe-mock'].map((f) => [
          f,
          Number(fs.readFileSync(path.join(dataDir, `${f}.pid`), 'utf8').split('\n')[0]),
        ]),
      );
      dev.kill('SIGTERM');
      await new Promise((r) => dev.once('exit', r));
      expect(dev.exitCode).toBe(0);
      // a stopped process may take a moment to be reaped
      const stopDeadline = Date.now() + 5_000;
      while (Object.values(pids).some(alive) && Date.now() < stopDeadline) await new Promise((r) => setTimeout(r, 100));
      expect(Object.entries(pids).filter(([, pid]) => alive(pid))).toEqual([]);
    } finally {
      if (dev.exitCode === null) {
        dev.kill('SIGTERM');
        await new Promise((r) => dev.once('exit', r));
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
