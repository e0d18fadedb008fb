import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '../../config';
import { devSigningKey } from '../../usecases/customer-keys';
import { productionSecrets } from '../helpers/production-env';

/** Everything production requires, but the customer token key. */
const { CUSTOMER_JWT_SIGNING_KEY: _ours, ...secrets } = productionSecrets;
const PRODUCTION = { ORDERLY_MODE: 'production', ...secrets };

describe('CUSTOMER_JWT_SIGNING_KEY / CUSTOMER_JWT_VERIFY_KEYS', () => {
  const ed = generateKeyPairSync('ed25519');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = ed.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

  it('production refuses to start without a key, and with the published dev key', () => {
    expect(() => loadConfig(PRODUCTION)).toThrow('CUSTOMER_JWT_SIGNING_KEY is required in production');
    const dev = devSigningKey().privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect(() => loadConfig({ ...PRODUCTION, CUSTOMER_JWT_SIGNING_KEY: dev })).toThrow('must not be the dev key');
  });

  it('dev and test fall back to the dev key (kid "dev", EdDSA)', () => {
    const config = loadConfig({ ORDERLY_MODE: 'test' });
    expect(config.customers.signingKey).toMatchObject({ kid: 'dev', alg: 'EdDSA' });
    expect(config.customers.verificationKeys.map((k) => k.kid)).toEqual(['dev']);
    expect(config.customers.accessTokenTtlSeconds).toBe(900);
  });

  it('takes a PKCS#8 PEM with \\n escapes (kid: its RFC 7638 thumbprint) or a private JWK (its kid, ES256 for P-256)', () => {
    const fromPem = loadConfig({ ...PRODUCTION, CUSTOMER_JWT_SIGNING_KEY: pem.replaceAll('\n', '\\n') }).customers.signingKey;
    expect(fromPem.alg).toBe('EdDSA');
    expect(fromPem.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const jwk = JSON.stringify({ ...ec.privateKey.export({ format: 'jwk' }), kid: '2026-11' });
    expect(loadConfig({ ...PRODUCTION, CUSTOMER_JWT_SIGNING_KEY: jwk }).customers.signingKey).toMatchObject({ kid: '2026-11', alg: 'ES256' });
  });

  it('the previous keys verify next to the current one; a kid used by two different keys is refused', () => {
    const previous = JSON.stringify([{ ...ec.publicKey.export({ format: 'jwk' }), kid: 'old' }]);
    const config = loadConfig({ ...PRODUCTION, CUSTOMER_JWT_SIGNING_KEY: pem, CUSTOMER_JWT_VERIFY_KEYS: previous });
    expect(config.customers.verificationKeys.map((k) => [k.kid, k.alg])).toEqual([[config.customers.signingKey.kid, 'EdDSA'], ['old', 'ES256']]);
    const clash = JSON.stringify({ ...ed.privateKey.export({ format: 'jwk' }), kid: 'old' });
    expect(() => loadConfig({ ...PRODUCTION, CUSTOMER_JWT_SIGNING_KEY: clash, CUSTOMER_JWT_VERIFY_KEYS: previous })).toThrow('same kid');
  });

  it('refuses what is not an Ed25519 or P-256 private key: RSA, P-384, a public key, garbage', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const pub = ed.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    for (const bad of [rsa, p384, pub, 'not a key', '{"kty":"oct","k":"c2VjcmV0"}']) {
      expect(() => loadConfig({ ...PRODUCTION, CUSTOMER_JWT_SIGNING_KEY: bad })).toThrow(ConfigError);
    }
    expect(createPrivateKey(pem).asymmetricKeyType).toBe('ed25519');
  });
});
