import { loadConfig } from '../config';
import { customerEmailHash, customerEmailQuery } from '../temporal/codec';

/**
 * `npm run email-hash -- buyer@example.com`: the CustomerEmailHash search attribute of an email
 * under this environment's CUSTOMER_EMAIL_HASH_SECRET, and the Web UI / CLI query for its
 * workflows (the same answer as POST /codec/email-hash, for whoever holds the secret).
 */
const email = process.argv[2];
if (!email || !email.includes('@')) {
  process.stderr.write('usage: npm run email-hash -- <email>\n');
  process.exit(2);
}
const secret = loadConfig().privacy.emailHashSecret;
process.stdout.write(`${JSON.stringify({ customerEmailHash: customerEmailHash(secret, email), query: customerEmailQuery(secret, email) })}\n`);
