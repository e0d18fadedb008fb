import { generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * Every secret a production-mode config requires, fresh per test run: config tests that are
 * about one setting spread these and override that one, so a new required secret is added
 * here once instead of in each test.
 */
export const productionSecrets = {
  ADMIN_API_TOKEN: 'a'.repeat(40),
  UNSUBSCRIBE_SECRET: 'unsubscribe-secret-for-tests',
  STRIPE_WEBHOOK_SECRET: 'whsec_test',
  PAYLOAD_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  CUSTOMER_EMAIL_HASH_SECRET: 'email-hash-secret-for-tests',
  CUSTOMER_JWT_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};
