import { errors, jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose';
import type { Config } from '../config';
import type { VerificationKey } from './customer-keys';

/**
 * Customer access tokens: JWTs (jose) signed with the current key (EdDSA or ES256, its `kid`
 * in the header), short-lived (CUSTOMER_ACCESS_TOKEN_TTL_SECONDS), issuer and audience
 * checked. Verification picks the key by `kid` among the live ones and accepts only that key's
 * algorithm: `alg: none`, an HMAC "signed" with a public key, an unknown or removed kid all fail.
 */
export type TokenFailure = 'token_expired' | 'token_not_yet_valid' | 'token_invalid';
export type VerifiedToken = { kind: 'valid'; customerId: string } | { kind: 'invalid'; code: TokenFailure; message: string };

/** Leeway for clocks a little apart between API processes. */
const CLOCK_TOLERANCE_SECONDS = 5;
const TOKEN_USE = 'access';

type Tokens = Pick<Config['customers'], 'signingKey' | 'verificationKeys' | 'issuer' | 'audience' | 'accessTokenTtlSeconds'>;

export async function signAccessToken(config: Tokens, customerId: string, now = Date.now()): Promise<string> {
  const { signingKey } = config;
  const iat = Math.floor(now / 1000);
  return new SignJWT({ token_use: TOKEN_USE })
    .setProtectedHeader({ alg: signingKey.alg, kid: signingKey.kid, typ: 'JWT' })
    .setSubject(customerId)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + config.accessTokenTtlSeconds)
    .sign(signingKey.privateKey);
}

class UnknownKeyError extends Error {}

export async function verifyAccessToken(config: Tokens, token: string): Promise<VerifiedToken> {
  const byKid = new Map<string, VerificationKey>(config.verificationKeys.map((k) => [k.kid, k]));
  let key: VerificationKey | undefined;
  try {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters) => {
        key = header.kid === undefined ? undefined : byKid.get(header.kid);
        if (!key) throw new UnknownKeyError('unknown kid');
        // the key decides the algorithm, never the token
        if (header.alg !== key.alg) throw new errors.JOSEAlgNotAllowed(`"alg" ${header.alg} is not this key's`);
        return key.publicKey;
      },
      {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: ['EdDSA', 'ES256'],
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      },
    );
    if (payload.token_use !== TOKEN_USE || typeof payload.sub !== 'string' || !/^cus_[A-Za-z0-9_-]{22}$/.test(payload.sub)) {
      return { kind: 'invalid', code: 'token_invalid', message: 'not a customer access token' };
    }
    return { kind: 'valid', customerId: payload.sub };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { kind: 'invalid', code: 'token_expired', message: 'the access token has expired: refresh it' };
    if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'nbf') return { kind: 'invalid', code: 'token_not_yet_valid', message: 'the access token is not valid yet' };
    if (err instanceof UnknownKeyError) return { kind: 'invalid', code: 'token_invalid', message: 'the access token was signed with an unknown key' };
    if (err instanceof errors.JOSEError || err instanceof TypeError) return { kind: 'invalid', code: 'token_invalid', message: 'the access token is not valid' };
    throw err;
  }
}
