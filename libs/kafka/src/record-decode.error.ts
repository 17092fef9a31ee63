/** A record whose bytes are not what its topic holds: the record's fault, never retried (a dead letter). */
export class RecordDecodeError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'RecordDecodeError';
  }
}

/**
 * Decode a Confluent-framed Avro record. Bytes that cannot be decoded are poison
 * (RecordDecodeError: dead-letter them); a registry that cannot be reached is not (rethrown).
 */
export async function decodeOrPoison<T = any>(codec: { decode(b: Buffer): Promise<unknown> }, value: Buffer | null): Promise<T> {
  if (!value) throw new RecordDecodeError('empty record value');
  try {
    return (await codec.decode(value)) as T;
  } catch (e) {
    const err = e as { message?: string; status?: number; code?: string; cause?: { code?: string } };
    const network = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|fetch failed|socket hang up/i.test(`${err.code ?? ''} ${err.cause?.code ?? ''} ${err.message ?? ''}`);
    if (network || (err.status !== undefined && err.status >= 500)) throw e;
    throw new RecordDecodeError(`cannot decode the record as Avro: ${err.message ?? String(e)}`);
  }
}
