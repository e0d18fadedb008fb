import { generateKeyPairSync } from 'node:crypto';
import { loadConfig, type Config } from '../../config';
import { devSigningKey } from '../../usecases/customer-keys';
import { productionSecrets } from '../helpers/production-env';
import { signAccessToken, verifyAccessToken } from '../../usecases/customer-tokens';

/**
 * Review of branch r15a. Production refuses the published dev key as CUSTOMER_JWT_SIGNING_KEY,
 * but not in CUSTOMER_JWT_VERIFY_KEYS: a rotation that copies the "previous key" from a dev or
 * staging .env (kid "dev") makes every token minted with the published dev seed valid — for any
 * customer id.
 */
const { CUSTOMER_JWT_SIGNING_KEY: _ours, ...secrets } = productionSecrets;
const PRODUCTION = { ORDERLY_MODE: 'production', ...secrets };

describe('the published dev key among the production verification keys (review)', () => {
  const current = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const devPublicJwk = JSON.stringify({ ...devSigningKey().publicKey.export({ format: 'jwk' }), kid: 'dev' });
  const env = { ...PRODUCTION, CUSTOMER_JWT_SIGNING_KEY: current, CUSTOMER_JWT_VERIFY_KEYS: devPublicJwk };

  it('production refuses to start with the dev key in CUSTOMER_JWT_VERIFY_KEYS', () => {
    expect(() => loadConfig(env)).toThrow(/dev key/);
  });

  it('(impact) if it starts, a token forged with the published dev seed is not accepted', async () => {
    let config: Config;
    try {
      config = loadConfig(env);
    } catch {
      return; // refused at start: fine
    }
    const forgedFor = 'cus_' + 'V'.repeat(22); // any victim's account id
    const forged = await signAccessToken({ ...config.customers, signingKey: devSigningKey() }, forgedFor);
    expect(await verifyAccessToken(config.customers, forged)).toMatchObject({ kind: 'invalid' });
  });
});
