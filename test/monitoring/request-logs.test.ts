import { createLogger } from '../../logger';
import { createTestDeps, startTestApp, type TestDeps } from '../helpers/app';

describe('request logs: one line per request with its request id, echoed back as X-Request-Id', () => {
  const lines: Record<string, unknown>[] = [];
  let deps: TestDeps;
  let app: { baseUrl: string; close(): Promise<void> };
  beforeAll(async () => {
    deps = await createTestDeps();
    app = await startTestApp({ ...deps, logger: createLogger('info', 'orderly-test', { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) }) });
  });
  afterAll(async () => {
    await app?.close();
    await deps?.close();
  });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(app.baseUrl + path, { headers });
  const lineOf = (id: string | null) => lines.find((l) => (l.req as { id?: string } | undefined)?.id === id);

  it("keeps a sane caller's X-Request-Id and logs it with the status", async () => {
    const res = await get('/openapi.json', { 'X-Request-Id': 'edge-7f3a:1' });
    expect(res.headers.get('x-request-id')).toBe('edge-7f3a:1');
    expect(lineOf('edge-7f3a:1')).toMatchObject({ req: { method: 'GET', path: '/openapi.json' }, res: { statusCode: 200 } });
  });

  it('replaces an absent or unsafe X-Request-Id (spaces, too long) with a fresh UUID', async () => {
    for (const given of [undefined, 'two words', 'x'.repeat(129), 'inject"\\n']) {
      const res = await get('/openapi.json', given === undefined ? {} : { 'X-Request-Id': given });
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(lineOf(id)).toBeDefined();
    }
  });

  it('logs the path without its query (emails, signed tokens) and a 4xx at warn with the error code answered', async () => {
    const res = await get('/orders?email=someone%40example.com', { 'X-Request-Id': 'no-query-1' });
    expect(res.status).toBe(401);
    const line = lineOf('no-query-1');
    expect(line).toMatchObject({ level: 40, req: { path: '/orders' }, res: { statusCode: 401 }, errorCode: 'unauthorized' });
    expect(JSON.stringify(line)).not.toContain('someone');
  });
});
