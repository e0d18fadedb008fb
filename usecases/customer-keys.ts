import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * The keys of customer access tokens (JWT): one signing key and any number of verification
 * keys (the signing key's public half, plus the previous keys during a rotation). Each key has
 * a `kid` (the JWK's own, else its RFC 7638 thumbprint) and exactly one algorithm, fixed by its
 * type: Ed25519 → EdDSA, P-256 → ES256. Nothing else is accepted.
 */
export type TokenAlgorithm = 'EdDSA' | 'ES256';

export interface VerificationKey {
  kid: string;
  alg: TokenAlgorithm;
  publicKey: KeyObject;
}

export interface SigningKey extends VerificationKey {
  privateKey: KeyObject;
}

export class KeyFormatError extends Error {}

function algorithmOf(key: KeyObject): TokenAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new KeyFormatError(`an Ed25519 or P-256 key is required, not ${key.asymmetricKeyType ?? 'a secret key'}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ''}`);
}

/** RFC 7638: the SHA-256 of the key's required public members, in lexicographic order. */
function thumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const members = jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** Env values may carry a PEM's line breaks as literal `\n` (one-line ConfigMaps and .env files). */
const unescape = (text: string) => text.trim().replaceAll('\\n', '\n');

function pemBlocks(text: string): string[] {
  return [...unescape(text).matchAll(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g)].map((m) => m[0]);
}

function jwksOf(text: string): (JsonWebKey & { kid?: string })[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeyFormatError('neither a PEM nor JSON (a JWK, an array of JWKs or a JWKS)');
  }
  const list = Array.isArray(parsed) ? parsed : parsed && typeof parsed === 'object' && 'keys' in parsed ? (parsed as { keys: unknown }).keys : [parsed];
  if (!Array.isArray(list) || list.some((k) => !k || typeof k !== 'object')) throw new KeyFormatError('a JWK, an array of JWKs or a JWKS { keys }');
  return list as (JsonWebKey & { kid?: string })[];
}

function withKid(publicKey: KeyObject, kid: unknown): VerificationKey {
  if (kid !== undefined && (typeof kid !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(kid))) throw new KeyFormatError('a kid is 1-100 printable ASCII characters');
  return { kid: kid ?? thumbprint(publicKey), alg: algorithmOf(publicKey), publicKey };
}

/** The signing key: a private JWK (JSON, one line) or a PKCS#8 / SEC1 PEM. */
export function parseSigningKey(text: string): SigningKey {
  try {
    const pems = pemBlocks(text);
    if (pems.length > 1) throw new KeyFormatError('one signing key, not several');
    const jwk = pems.length === 0 ? jwksOf(text.trim()) : undefined;
    if (jwk && jwk.length !== 1) throw new KeyFormatError('one signing key, not several');
    const privateKey = pems[0] ? createPrivateKey(pems[0]) : createPrivateKey({ key: jwk?.[0] as JsonWebKey, format: 'jwk' });
    const publicKey = createPublicKey(privateKey);
    return { ...withKid(publicKey, jwk?.[0]?.kid), privateKey };
  } catch (err) {
    throw err instanceof KeyFormatError ? err : new KeyFormatError(`not a private key: ${(err as Error).message}`);
  }
}

/** Verification keys (the previous signing keys): public JWKs, a JWKS, or PEM blocks. */
export function parseVerificationKeys(text: string): VerificationKey[] {
  try {
    const pems = pemBlocks(text);
    if (pems.length > 0) return pems.map((pem) => withKid(createPublicKey(pem), undefined));
    return jwksOf(text.trim()).map((jwk) => withKid(createPublicKey({ key: { ...jwk, d: undefined }, format: 'jwk' }), jwk.kid));
  } catch (err) {
    throw err instanceof KeyFormatError ? err : new KeyFormatError(`not a public key: ${(err as Error).message}`);
  }
}

/**
 * The dev and test signing key: an Ed25519 key from a published seed (PKCS#8 of a 32-byte
 * seed), the same in every process of a dev or test run. Production refuses it (config.ts).
 */
export function devSigningKey(): SigningKey {
  const seed = createHash('sha256').update('orderly-dev-customer-token-key').digest();
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey);
  return { kid: 'dev', alg: 'EdDSA', publicKey, privateKey };
}
