/**
 * The deploy files, validated offline: the kustomize overlays rendered and checked with
 * kubernetes-validate (strict: unknown fields fail) against the Kubernetes API schemas, the KEDA
 * ScaledObject against deploy/schemas/ with check-jsonschema, docker-compose.yml against the
 * Compose Specification schema, the Temporal chart values against what Orderly requires — and
 * broken copies of each fail. The tools come from scripts/bootstrap.sh (.tools/, on PATH).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../config';
import { productionSecrets } from '../helpers/production-env';

const ROOT = path.resolve(__dirname, '../..');
const DEPLOY = path.join(ROOT, 'deploy');
const SCHEMAS = path.join(DEPLOY, 'schemas');
const OVERLAYS = ['dev', 'production'];
/** The oldest Kubernetes the manifests target, and the newest the validator knows. */
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];
/** Custom resources and their schemas (kubernetes-validate knows only the built-in kinds). */
const CRD_SCHEMAS: Record<string, string> = {
  'keda.sh/v1alpha1/ScaledObject': path.join(SCHEMAS, 'keda-scaledobject.v1alpha1.schema.json'),
};

interface Run {
  ok: boolean;
  output: string;
}

function run(cmd: string, args: string[]): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`${cmd} could not run (${r.error.message}); scripts/bootstrap.sh installs it into .tools`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

interface Doc {
  apiVersion: string;
  kind: string;
  name: string;
  text: string;
}

/** kustomize's output: documents separated by `---`, apiVersion/kind/metadata.name at the top level. */
function splitDocs(yaml: string): Doc[] {
  return yaml
    .split(/^---$/m)
    .map((text) => text.trim())
    .filter(Boolean)
    .map((text) => ({
      apiVersion: /^apiVersion:\s*(\S+)/m.exec(text)?.[1] ?? '',
      kind: /^kind:\s*(\S+)/m.exec(text)?.[1] ?? '',
      name: /^metadata:\n(?:\s+.*\n)*?\s{2}name:\s*(\S+)/m.exec(`${text}\n`)?.[1] ?? '',
      text: `${text}\n`,
    }));
}

function render(deployRoot: string, overlay: string): Run {
  return run('kustomize', ['build', path.join(deployRoot, 'k8s', 'overlays', overlay)]);
}

/** Renders every overlay of a deploy/ tree and validates each object; ok only if all pass. */
function validateKubernetes(deployRoot: string, only: { overlays?: string[]; versions?: string[] } = {}): Run & { kinds: string[] } {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'orderly-k8s-'));
  const outputs: string[] = [];
  const kinds = new Set<string>();
  let ok = true;
  try {
    for (const overlay of only.overlays ?? OVERLAYS) {
      const rendered = render(deployRoot, overlay);
      if (!rendered.ok) {
        outputs.push(`${overlay}: kustomize build failed\n${rendered.output}`);
        ok = false;
        continue;
      }
      const docs = splitDocs(rendered.output);
      const builtin = docs.filter((d) => !CRD_SCHEMAS[`${d.apiVersion}/${d.kind}`]);
      docs.forEach((d) => kinds.add(`${d.apiVersion}/${d.kind}`));
      const builtinFile = path.join(work, `${overlay}.yaml`);
      fs.writeFileSync(builtinFile, builtin.map((d) => d.text).join('---\n'));
      for (const version of only.versions ?? KUBERNETES_VERSIONS) {
        const r = run('kubernetes-validate', ['--strict', '--quiet', '-k', version, builtinFile]);
        // a kind without a schema is only a warning to kubernetes-validate: here it fails
        if (!r.ok || /WARN|ERROR|Couldn't find schema/.test(r.output)) {
          ok = false;
          outputs.push(`${overlay} (Kubernetes ${version}):\n${r.output}`);
        }
      }
      for (const [i, d] of docs.entries()) {
        const schema = CRD_SCHEMAS[`${d.apiVersion}/${d.kind}`];
        if (!schema) continue;
        const file = path.join(work, `${overlay}-${i}-${d.kind}.yaml`);
        fs.writeFileSync(file, d.text);
        const r = run('check-jsonschema', ['--schemafile', schema, file]);
        if (!r.ok) {
          ok = false;
          outputs.push(`${overlay} ${d.kind}/${d.name}:\n${r.output}`);
        }
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { ok, output: outputs.join('\n'), kinds: [...kinds].sort() };
}

function checkJsonSchema(schema: string, file: string): Run {
  return run('check-jsonschema', ['--schemafile', schema, file]);
}

/** A copy of deploy/ (and the compose file) in a temp dir, for the broken-copy tests. */
function copyOfDeploy(): { root: string; deploy: string; cleanup: () => void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'orderly-deploy-copy-'));
  const deploy = path.join(root, 'deploy');
  fs.cpSync(DEPLOY, deploy, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'docker-compose.yml'), path.join(root, 'docker-compose.yml'));
  return { root, deploy, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

function edit(file: string, from: string | RegExp, to: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`the edit of ${file} changed nothing`);
  fs.writeFileSync(file, next);
}

/** The variable names of config.ts's env schema (`const envSchema = z.object({ ... });`). */
function configKeys(): string[] {
  const source = fs.readFileSync(path.join(ROOT, 'config.ts'), 'utf8');
  const block = /const envSchema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(source)?.[1];
  if (!block) throw new Error('envSchema not found in config.ts');
  return [...block.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string);
}

/** The keys of a top-level map (`data:` / `stringData:`) of a one-object manifest. */
function mapKeys(file: string, map: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const block = new RegExp(`^${map}:\\n((?:[ #].*\\n|\\n)*)`, 'm').exec(text)?.[1] ?? '';
  return [...block.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string);
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('every overlay renders and every object validates (strict) against Kubernetes 1.30 and 1.37, the ScaledObject against its schema', () => {
    const result = validateKubernetes(DEPLOY);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
    expect(result.kinds).toEqual([
      'apps/v1/Deployment',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'batch/v1/Job',
      'keda.sh/v1alpha1/ScaledObject',
      'policy/v1/PodDisruptionBudget',
      'v1/ConfigMap',
      'v1/Secret',
      'v1/Service',
      'v1/ServiceAccount',
    ]);
  });

  it('fails on a broken copy: a misspelt field in a Deployment, a wrong type in the HPA, a misspelt KEDA trigger key', () => {
    const cases: [string, string | RegExp, string, RegExp][] = [
      ['k8s/base/worker.yaml', 'terminationGracePeriodSeconds: 150', 'terminationGracePeriodSecond: 150', /terminationGracePeriodSecond/],
      ['k8s/base/api.yaml', 'averageUtilization: 70', 'averageUtilization: "seventy"', /seventy/],
      ['k8s/base/worker-scaledobject.yaml', 'taskQueue: orderly', 'taskQueueName: orderly', /taskQueueName|taskQueue/],
      ['k8s/base/worker-scaledobject.yaml', 'type: temporal', 'type: temporall', /temporall/],
    ];
    for (const [file, from, to, message] of cases) {
      const copy = copyOfDeploy();
      try {
        edit(path.join(copy.deploy, file), from, to);
        const result = validateKubernetes(copy.deploy, { overlays: ['production'], versions: ['1.37.0'] });
        expect({ file, to, ok: result.ok }).toEqual({ file, to, ok: false });
        expect(result.output).toMatch(message);
      } finally {
        copy.cleanup();
      }
    }
  });

  it('a custom resource without a schema fails instead of passing unchecked', () => {
    const copy = copyOfDeploy();
    try {
      const extra = path.join(copy.deploy, 'k8s/base/trigger-auth.yaml');
      fs.writeFileSync(extra, 'apiVersion: keda.sh/v1alpha1\nkind: TriggerAuthentication\nmetadata:\n  name: temporal\nspec:\n  secretTargetRef: []\n');
      edit(path.join(copy.deploy, 'k8s/base/kustomization.yaml'), '  - pdb.yaml\n', '  - pdb.yaml\n  - trigger-auth.yaml\n');
      const result = validateKubernetes(copy.deploy, { overlays: ['production'], versions: ['1.37.0'] });
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/TriggerAuthentication/);
    } finally {
      copy.cleanup();
    }
  });

  it('the ConfigMap and the Secret cover every variable of config.ts, each in exactly one, and nothing else', () => {
    const keys = configKeys();
    expect(keys.length).toBeGreaterThan(40);
    const configMap = mapKeys(path.join(DEPLOY, 'k8s/base/configmap.yaml'), 'data');
    const secret = mapKeys(path.join(DEPLOY, 'k8s/base/secret.yaml'), 'stringData');
    expect(keys.filter((k) => !configMap.includes(k) && !secret.includes(k))).toEqual([]);
    expect(configMap.filter((k) => secret.includes(k))).toEqual([]);
    expect([...configMap, ...secret].filter((k) => !keys.includes(k))).toEqual([]);
    // what must never sit in a ConfigMap
    for (const k of ['DATABASE_URL', 'ADMIN_API_TOKEN', 'UNSUBSCRIBE_SECRET', 'STRIPE_API_KEY', 'SMTP_PASS', 'REDIS_URL']) expect(secret).toContain(k);
  });

  it('the example Secret cannot start production (each example value is refused by name); with real secrets the ConfigMap does', () => {
    const values = (file: string, map: string) => {
      const text = fs.readFileSync(path.join(DEPLOY, 'k8s/base', file), 'utf8');
      const block = new RegExp(`^${map}:\\n((?:[ #].*\\n|\\n)*)`, 'm').exec(text)?.[1] ?? '';
      return Object.fromEntries([...block.matchAll(/^ {2}([A-Z][A-Z0-9_]*): ?(.*)$/gm)].map((m) => [m[1] as string, (m[2] as string).replace(/^"(.*)"$/, '$1')]));
    };
    const configMap = values('configmap.yaml', 'data');
    const examples = values('secret.yaml', 'stringData');
    expect(configMap.ORDERLY_MODE).toBe('production');
    // the example Secret, applied by mistake, cannot start production: each example value is refused by name
    expect(() => loadConfig({ ...configMap, ...examples })).toThrow(/example value|dev key/);
    const real: Record<string, string> = {
      ...productionSecrets,
      DATABASE_URL: 'postgres://orderly:s3cr3t-from-a-vault@postgres.orderly.svc.cluster.local:5432/orderly',
      STRIPE_API_KEY: 'sk_live_from_a_vault',
    };
    const refused = Object.entries(examples).filter(([name, example]) => example !== '' && name !== 'REDIS_URL');
    expect(refused.map(([name]) => name)).toEqual(expect.arrayContaining(['DATABASE_URL', 'ADMIN_API_TOKEN', 'PAYLOAD_ENCRYPTION_KEY', 'CUSTOMER_JWT_SIGNING_KEY']));
    for (const [name, example] of refused) {
      expect(() => loadConfig({ ...configMap, ...examples, ...real, [name]: example })).toThrow(name);
    }
    const config = loadConfig({ ...configMap, ...examples, ...real });
    expect(config).toMatchObject({ mode: 'production', port: 3000, payment: { gateway: 'stripe' }, worker: { shutdownGraceSeconds: 120, heartbeatFile: '/tmp/orderly-worker-alive' } });
    expect(config.faults).toEqual({ pauseMs: 0 });
  });

  it('the worker is given longer to stop than it drains, and it drains as long as the longest activity timeout', () => {
    const worker = fs.readFileSync(path.join(DEPLOY, 'k8s/base/worker.yaml'), 'utf8');
    const configMap = fs.readFileSync(path.join(DEPLOY, 'k8s/base/configmap.yaml'), 'utf8');
    const termination = Number(/terminationGracePeriodSeconds: (\d+)/.exec(worker)?.[1]);
    const drain = Number(/WORKER_SHUTDOWN_GRACE_SECONDS: "(\d+)"/.exec(configMap)?.[1]);
    const seconds = (d: string) => Number(d.slice(0, -1)) * ({ s: 1, m: 60, h: 3600 }[d.slice(-1)] ?? NaN);
    const timeouts = fs
      .readdirSync(path.join(ROOT, 'workflows'))
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...fs.readFileSync(path.join(ROOT, 'workflows', f), 'utf8').matchAll(/startToCloseTimeout: '(\d+[smh])'/g)].map((m) => seconds(m[1] as string)));
    expect(timeouts.length).toBeGreaterThan(5);
    expect(drain).toBeGreaterThanOrEqual(Math.max(...timeouts));
    expect(termination).toBeGreaterThanOrEqual(drain + 15);
  });
});

describe('the Temporal chart values (deploy/temporal/values.yaml)', () => {
  it('validate against what Orderly requires: PostgreSQL history, Elasticsearch visibility, a fixed shard count, update-with-start on', () => {
    const r = checkJsonSchema(path.join(SCHEMAS, 'temporal-values.schema.json'), path.join(DEPLOY, 'temporal/values.yaml'));
    expect(r.output).toContain('ok -- validation done');
    expect(r.ok).toBe(true);
  });

  it('fail with a shard count that is not a power of two, or visibility on the wrong store', () => {
    for (const [from, to] of [
      ['numHistoryShards: 512', 'numHistoryShards: 500'],
      ['          elasticsearch:\n            version: v8', '          elasticsaerch:\n            version: v8'],
    ] as const) {
      const copy = copyOfDeploy();
      try {
        const file = path.join(copy.deploy, 'temporal/values.yaml');
        edit(file, from, to);
        expect(checkJsonSchema(path.join(SCHEMAS, 'temporal-values.schema.json'), file).ok).toBe(false);
      } finally {
        copy.cleanup();
      }
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = path.join(ROOT, 'docker-compose.yml');
  const text = fs.readFileSync(compose, 'utf8');

  it('validates against the Compose Specification schema', () => {
    const r = checkJsonSchema(path.join(SCHEMAS, 'compose-spec.json'), compose);
    expect(r.output).toContain('ok -- validation done');
    expect(r.ok).toBe(true);
  });

  it('a broken copy fails (a misspelt service key, a depends_on condition that does not exist)', () => {
    for (const [from, to] of [
      ['    stop_grace_period: 150s', '    stop_grace_periode: 150s'],
      ['migrate: { condition: service_completed_successfully }', 'migrate: { condition: service_finished }'],
    ] as const) {
      const copy = copyOfDeploy();
      try {
        const file = path.join(copy.root, 'docker-compose.yml');
        edit(file, from, to);
        expect(checkJsonSchema(path.join(copy.deploy, 'schemas/compose-spec.json'), file).ok).toBe(false);
      } finally {
        copy.cleanup();
      }
    }
  });

  it('production mode: secrets required from the environment, no dev token, only the API on a public port, the app env only names config.ts variables', () => {
    expect(text).toMatch(/ORDERLY_MODE: production/);
    for (const secret of ['ADMIN_API_TOKEN', 'UNSUBSCRIBE_SECRET', 'ORDERLY_DB_PASSWORD', 'TEMPORAL_DB_PASSWORD']) expect(text).toMatch(new RegExp(`\\$\\{${secret}:\\?`));
    expect(text).not.toMatch(/dev-admin-token/);
    const published = [...text.matchAll(/ports: \[([^\]]*)\]/g)].flatMap((m) => (m[1] as string).split(',').map((p) => p.trim().replace(/"/g, '')));
    expect(published.filter((p) => !p.startsWith('127.0.0.1:'))).toEqual(['3000:3000']);
    const appEnv = /^x-app-env: &app-env\n((?: {2}.*\n)+)/m.exec(text)?.[1] ?? '';
    const names = [...appEnv.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string);
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !configKeys().includes(n))).toEqual([]);
    // every long-running service has a healthcheck
    const services = text.split(/^ {2}(?=[a-z-]+:\n)/m).slice(1);
    const longRunning = services.filter((s) => /restart: unless-stopped/.test(s));
    expect(longRunning.length).toBeGreaterThanOrEqual(9);
    expect(longRunning.filter((s) => !/healthcheck:/.test(s)).map((s) => s.split(':')[0])).toEqual(['temporal-ui']);
  });
});
