import { randomBytes } from 'node:crypto';

const IV_BYTES = 12;

/** Random ivs drawn in bulk (randomBytes costs a call per draw): 1,024 at a time. */
let ivPool = Buffer.alloc(0);
let ivAt = 0;

/** A fresh random 12-byte AES-GCM iv (a view of the pool: used once, never written to). */
export function nextIv(): Buffer {
  if (ivAt + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_BYTES * 1024);
    ivAt = 0;
  }
  const iv = ivPool.subarray(ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
  return iv;
}
