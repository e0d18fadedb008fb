import { randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { ConfigError, DEV_PAYLOAD_KEY, loadConfig } from '../../config';
import { productionSecrets } from '../helpers/production-env';
import { customerEmailHash, EncryptionCodec, UndecodablePayloadError, UnknownPayloadKeyError } from '../../temporal/codec';

const production = { ORDERLY_MODE: 'production', ...productionSecrets };
const utf8 = (s: string) => new TextEncoder().encode(s);
const plain = (s: string): Payload => ({ metadata: { [METADATA_ENCODING_KEY]: utf8('json/plain') }, data: utf8(JSON.stringify(s)) });
const text = (p: Payload | undefined) => Buffer.from(p?.data ?? []).toString('utf8');

describe('payload keys and the email hash secret (config.ts)', () => {
  it('production refuses to start without a payload key, with the dev key, with a key that is not 32 bytes, or without the email hash secret', () => {
    expect(loadConfig(production).privacy.payloadKeys.current.id).toBe('k1');
    expect(() => loadConfig({ ...production, PAYLOAD_ENCRYPTION_KEY: '' })).toThrow(/PAYLOAD_ENCRYPTION_KEY is required in production/);
    expect(() => loadConfig({ ...production, PAYLOAD_ENCRYPTION_KEY: DEV_PAYLOAD_KEY.key.toString('base64') })).toThrow(/dev key/);
    expect(() => loadConfig({ ...production, PAYLOAD_ENCRYPTION_KEY: randomBytes(16).toString('base64') })).toThrow(ConfigError);
    expect(() => loadConfig({ ...production, CUSTOMER_EMAIL_HASH_SECRET: '' })).toThrow(/CUSTOMER_EMAIL_HASH_SECRET is required/);
  });

  it('dev and test get the dev key; old keys are id:base64 pairs, the current id not among them', () => {
    expect(loadConfig({ ORDERLY_MODE: 'test' }).privacy.payloadKeys).toEqual({ current: DEV_PAYLOAD_KEY, old: [] });
    const k = randomBytes(32).toString('base64');
    const config = loadConfig({ ORDERLY_MODE: 'test', PAYLOAD_ENCRYPTION_KEY_ID: 'k3', PAYLOAD_ENCRYPTION_KEY: k, PAYLOAD_ENCRYPTION_OLD_KEYS: `k1:${k}, k2:${k}` });
    expect(config.privacy.payloadKeys.old.map((o) => o.id)).toEqual(['k1', 'k2']);
    expect(() => loadConfig({ ORDERLY_MODE: 'test', PAYLOAD_ENCRYPTION_KEY: k, PAYLOAD_ENCRYPTION_OLD_KEYS: 'just-a-key' })).toThrow(/id:base64key/);
    expect(() => loadConfig({ ORDERLY_MODE: 'test', PAYLOAD_ENCRYPTION_KEY_ID: 'k1', PAYLOAD_ENCRYPTION_KEY: k, PAYLOAD_ENCRYPTION_OLD_KEYS: `k1:${k}` })).toThrow(/repeats/);
  });

  it('the codec CORS origins default to the Web UI origin, or are listed', () => {
    expect(loadConfig({ ORDERLY_MODE: 'test', TEMPORAL_UI_URL: 'https://temporal.shop.example/namespaces/default' }).privacy.codecCorsOrigins).toEqual(['https://temporal.shop.example']);
    expect(loadConfig({ ORDERLY_MODE: 'test', CODEC_CORS_ORIGINS: 'http://localhost:8233, http://127.0.0.1:8233' }).privacy.codecCorsOrigins).toEqual(['http://localhost:8233', 'http://127.0.0.1:8233']);
  });
});

describe('EncryptionCodec (AES-256-GCM, key ids, rotation)', () => {
  const k1 = { id: 'k1', key: randomBytes(32) };
  const k2 = { id: 'k2', key: randomBytes(32) };

  it('encrypts every payload with a fresh nonce under the current key id; decodes it back', async () => {
    const codec = new EncryptionCodec({ current: k1, old: [] });
    const [a, b] = await codec.encode([plain('buyer@example.com'), plain('buyer@example.com')]);
    expect(Buffer.from(a?.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
    expect(Buffer.from(a?.metadata?.['encryption-key-id'] ?? []).toString()).toBe('k1');
    expect(text(a)).not.toContain('buyer@example.com');
    expect(Buffer.from(a?.data ?? []).equals(Buffer.from(b?.data ?? []))).toBe(false);
    expect((await codec.decode([a as Payload])).map(text)).toEqual(['"buyer@example.com"']);
  });

  it('rotation: encoded with the old key, still decodes once it is an old key; new payloads use the new key; an unknown key fails loudly', async () => {
    const before = new EncryptionCodec({ current: k1, old: [] });
    const after = new EncryptionCodec({ current: k2, old: [k1] });
    const [old] = await before.encode([plain('from before')]);
    expect((await after.decode([old as Payload])).map(text)).toEqual(['"from before"']);
    const [fresh] = await after.encode([plain('from after')]);
    expect(Buffer.from(fresh?.metadata?.['encryption-key-id'] ?? []).toString()).toBe('k2');
    await expect(before.decode([fresh as Payload])).rejects.toThrow(UnknownPayloadKeyError);
    await expect(before.decode([fresh as Payload])).rejects.toThrow(/unknown key id "k2"/);
  });

  it('a relabelled or tampered payload does not decrypt; an unencrypted payload passes through', async () => {
    const codec = new EncryptionCodec({ current: k1, old: [{ id: 'k0', key: k1.key }] });
    const [p] = await codec.encode([plain('x')]);
    const relabelled = { ...p, metadata: { ...p?.metadata, 'encryption-key-id': utf8('k0') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(UndecodablePayloadError);
    const data = Buffer.from(p?.data ?? []);
    data[20] = (data[20] ?? 0) ^ 1;
    await expect(codec.decode([{ ...p, data }])).rejects.toThrow(UndecodablePayloadError);
    expect(await codec.decode([plain('old history')])).toEqual([plain('old history')]);
  });

  it('the email hash is keyed and case-insensitive', () => {
    expect(customerEmailHash('s1-secret-secret', ' Buyer@Example.com ')).toBe(customerEmailHash('s1-secret-secret', 'buyer@example.com'));
    expect(customerEmailHash('s1-secret-secret', 'buyer@example.com')).not.toBe(customerEmailHash('s2-secret-secret', 'buyer@example.com'));
    expect(customerEmailHash('s1-secret-secret', 'buyer@example.com')).toMatch(/^[0-9a-f]{64}$/);
  });
});
