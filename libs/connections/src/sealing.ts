import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Secret, type ConnectionSecretKey } from '@iks/config';
import type { SealedValue } from '@iks/kafka';

export type { SealedValue } from '@iks/kafka';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The secret fields of a connection record: each is sealed with its name in the additional data. */
export type SealedField =
  | 'intercom.client_secret'
  | 'intercom.access_token'
  | 'klaviyo.private_key'
  | 'klaviyo.oauth.access_token'
  | 'klaviyo.oauth.refresh_token';

/** A sealed value that cannot be opened: the message says why, never the value. */
export class UnsealError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'UnsealError';
  }
}

/** No CONNECTION_SECRET_KEYS: nothing can be sealed or unsealed. */
export class NoSealingKeyError extends Error {
  readonly retriable = false;
  constructor() {
    super(
      'CONNECTION_SECRET_KEYS is not set: connections other than the default one need a key to seal their secrets ' +
        '(<key id>:<base64 of 32 bytes>; generate one with: openssl rand -base64 32)',
    );
    this.name = 'NoSealingKeyError';
  }
}

/** The additional authenticated data: a sealed value opens only for its connection and field. */
export function additionalData(connectionId: string, field: SealedField): Buffer {
  return Buffer.from(`${connectionId}\n${field}`, 'utf8');
}

/**
 * Seals and unseals the secrets of connections (docs/CONNECTIONS.md): AES-256-GCM, a fresh
 * 12-byte IV per value, AAD `<connection id>\n<field name>`, the key id stored with the value.
 * The first key of CONNECTION_SECRET_KEYS seals; every key listed unseals (rotation).
 */
export class ConnectionSealer {
  readonly #keys: ReadonlyMap<string, Buffer>;
  /** The key id new values are sealed under (the first of CONNECTION_SECRET_KEYS). */
  readonly sealingKeyId: string;

  constructor(keys: readonly ConnectionSecretKey[]) {
    if (keys.length === 0) throw new NoSealingKeyError();
    const map = new Map<string, Buffer>();
    for (const k of keys) {
      const bytes = Buffer.from(k.key.reveal(), 'base64');
      if (bytes.length !== 32) throw new Error(`CONNECTION_SECRET_KEYS: key "${k.kid}" is not 32 bytes`);
      if (map.has(k.kid)) throw new Error(`CONNECTION_SECRET_KEYS: key id "${k.kid}" is listed twice`);
      map.set(k.kid, bytes);
    }
    this.#keys = map;
    this.sealingKeyId = keys[0].kid;
  }

  /** The key ids that unseal, the sealing one first. */
  get keyIds(): readonly string[] {
    return [...this.#keys.keys()];
  }

  seal(connectionId: string, field: SealedField, value: Secret | string): SealedValue {
    const clear = Buffer.from(typeof value === 'string' ? value : value.reveal(), 'utf8');
    try {
      return this.sealBytes(additionalData(connectionId, field), clear);
    } finally {
      clear.fill(0);
    }
  }

  /** `clear` sealed under the sealing key with `aad` as additional data (other sealed things: people's data keys). */
  sealBytes(aad: Buffer, clear: Buffer): SealedValue {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#keys.get(this.sealingKeyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(clear), cipher.final()]);
    return { keyId: this.sealingKeyId, iv, ciphertext, tag: cipher.getAuthTag() };
  }

  /** The clear bytes of `sealed` (see sealBytes); UnsealError naming `what` when it does not open. */
  unsealBytes(aad: Buffer, sealed: SealedValue, what: string): Buffer {
    const key = this.#keys.get(sealed.keyId);
    if (!key)
      throw new UnsealError(
        `${what} is sealed under key id "${sealed.keyId}", which CONNECTION_SECRET_KEYS does not list (it lists ${this.keyIds.map((k) => `"${k}"`).join(', ')})`,
      );
    if (sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES)
      throw new UnsealError(
        `${what} is not a sealed value (IV of ${sealed.iv.length} bytes, tag of ${sealed.tag.length})`,
      );
    try {
      const decipher = createDecipheriv(ALGORITHM, key, sealed.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.tag);
      return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
    } catch {
      throw new UnsealError(`${what} does not open under key "${sealed.keyId}": altered, or sealed for something else`);
    }
  }

  /** The clear value, as a Secret; UnsealError when the key is not listed or the value, tag or AAD does not match. */
  unseal(connectionId: string, field: SealedField, sealed: SealedValue): Secret {
    const clear = this.unsealBytes(
      additionalData(connectionId, field),
      sealed,
      `${field} of connection "${connectionId}"`,
    );
    const text = clear.toString('utf8');
    clear.fill(0);
    return new Secret(text);
  }
}
