import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { KEY_BYTES, type PayloadKeys } from '../config';

/**
 * Personal data out of Temporal history: every payload the client and the worker send
 * (workflow and activity arguments and results, signals, updates, queries, memo, the Web UI's
 * summary and details, failure details) is AES-256-GCM ciphertext in history. Search
 * attributes are not payloads the codec sees: the only personal one is a keyed hash
 * (customerEmailHash below). Support reads decoded payloads through the codec endpoint
 * (api/routes/codec.ts) with the Web UI or `temporal --codec-endpoint`.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Which key encrypted the payload (rotation: decoding looks it up among the current and old keys). */
export const KEY_ID_METADATA_KEY = 'encryption-key-id';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** A payload encrypted with a key id this process does not know: refused loudly, never passed on as ciphertext. */
export class UnknownPayloadKeyError extends Error {
  constructor(readonly keyId: string) {
    super(`payload encrypted with unknown key id "${keyId}": add that key to PAYLOAD_ENCRYPTION_OLD_KEYS`);
    this.name = 'UnknownPayloadKeyError';
  }
}

/** A payload that fails authentication under its key (tampered, truncated, or relabelled to another key id). */
export class UndecodablePayloadError extends Error {
  constructor(readonly keyId: string) {
    super(`payload encrypted with key id "${keyId}" does not decrypt (tampered or truncated)`);
    this.name = 'UndecodablePayloadError';
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/**
 * AES-256-GCM over the whole serialized payload (metadata and data), a random 96-bit nonce per
 * payload, the key id as additional authenticated data (a payload cannot be relabelled to
 * another key). Data = nonce ‖ ciphertext ‖ tag. Payloads without the encrypted encoding pass
 * through decode unchanged: histories recorded before the codec (test/histories) still replay.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;

  constructor(private readonly config: PayloadKeys) {
    this.keys = new Map([...config.old, config.current].map((k) => [k.id, k.key]));
    for (const [id, key] of this.keys) {
      if (key.length !== KEY_BYTES) throw new Error(`payload key "${id}" must be ${KEY_BYTES} bytes`);
    }
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.config.current;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA_KEY]: utf8(id) },
      data: new Uint8Array(data),
    };
  }

  private decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
    const id = text(payload.metadata?.[KEY_ID_METADATA_KEY]) ?? '';
    const key = this.keys.get(id);
    if (!key) throw new UnknownPayloadKeyError(id);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) throw new UndecodablePayloadError(id);
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new UndecodablePayloadError(id);
    }
    return temporal.api.common.v1.Payload.decode(plain) as Payload;
  }
}

/** The module of the workers' failure converter (failure messages and stack traces encoded, so encrypted). */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter every Temporal client and worker of Orderly uses (temporal/client.ts,
 * workers/worker.ts): the codec, and the failure converter that moves failure messages into an
 * encoded (so encrypted) payload — a worker loads it by path, in the sandbox too if its bundle
 * was built with it (workers/main.ts, test/setup/global-setup.ts).
 */
export function payloadDataConverter(keys: PayloadKeys): { payloadCodecs: PayloadCodec[]; failureConverterPath: string } {
  return { payloadCodecs: [new EncryptionCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** The form every email is hashed in: trimmed, lower-cased (the Web UI query must match whatever case the customer typed). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The `CustomerEmailHash` search attribute: HMAC-SHA256 of the normalized email under a secret
 * (CUSTOMER_EMAIL_HASH_SECRET), hex. Visibility stores it in plain text, so a plain hash would
 * be a dictionary away from the address; without the secret it says nothing. Support computes
 * it with `POST /codec/email-hash` or `npm run email-hash -- <email>`.
 */
export function customerEmailHash(secret: string, email: string): string {
  return createHmac('sha256', secret).update(normalizeEmail(email), 'utf8').digest('hex');
}

/** The Web UI / `temporal workflow list --query` filter for one email's workflows. */
export function customerEmailQuery(secret: string, email: string): string {
  return `CustomerEmailHash = "${customerEmailHash(secret, email)}"`;
}
