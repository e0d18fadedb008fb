import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../config';
import { productionSecrets } from '../helpers/production-env';

const ROOT = path.resolve(__dirname, '../..');
const secrets = productionSecrets;

describe('config in a container: no silent dev fallback', () => {
  it('the image sets the container marker and leaves ORDERLY_MODE to the deployment', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENV ORDERLY_CONTAINER=true$/m);
    expect(dockerfile).not.toMatch(/ORDERLY_MODE=/);
  });

  it('with the marker and no ORDERLY_MODE (or an empty one), start-up is refused instead of running as dev', () => {
    expect(() => loadConfig({ ORDERLY_CONTAINER: 'true', ...secrets })).toThrow('ORDERLY_MODE is required in a container');
    expect(() => loadConfig({ ORDERLY_CONTAINER: 'true', ORDERLY_MODE: '', ...secrets })).toThrow('ORDERLY_MODE is required in a container');
  });

  it('with the marker, the published dev admin token is never used, even in an explicit dev mode', () => {
    expect(() => loadConfig({ ORDERLY_CONTAINER: 'true', ORDERLY_MODE: 'dev' })).toThrow('ADMIN_API_TOKEN is required in a container');
    expect(loadConfig({ ORDERLY_CONTAINER: 'true', ORDERLY_MODE: 'dev', ADMIN_API_TOKEN: 'x'.repeat(20) }).adminApiToken).toBe('x'.repeat(20));
  });

  it('with the marker and ORDERLY_MODE=production plus its secrets, it starts in production', () => {
    expect(loadConfig({ ORDERLY_CONTAINER: 'true', ORDERLY_MODE: 'production', ...secrets }).mode).toBe('production');
  });

  it('outside a container the dev default stays (npm run dev needs no .env)', () => {
    const config = loadConfig({});
    expect(config.mode).toBe('dev');
    expect(config.adminApiToken).toBe('dev-admin-token');
  });

  it('rate limits are on by default except in test mode; TRUST_PROXY defaults to trusting no proxy and refuses "true"', () => {
    expect(loadConfig({}).rateLimits.enabled).toBe(true);
    expect(loadConfig({ ORDERLY_MODE: 'production', ...secrets }).rateLimits.enabled).toBe(true);
    expect(loadConfig({ ORDERLY_MODE: 'test' }).rateLimits.enabled).toBe(false);
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toEqual(['loopback', '10.0.0.0/8']);
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow('TRUST_PROXY');
    expect(() => loadConfig({ RATE_LIMIT_IP: '600' })).toThrow('RATE_LIMIT_IP');
    expect(loadConfig({ RATE_LIMIT_CHECKOUT: '5/60' }).rateLimits.checkout).toEqual({ points: 5, durationSeconds: 60 });
  });
});
