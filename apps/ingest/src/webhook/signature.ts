import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Intercom signs each webhook with `X-Hub-Signature: sha1=<hex>`: the HMAC-SHA1 of the raw
 * request body keyed with the app's client secret. Compare on the raw bytes (a re-serialised
 * body does not match) and in constant time. Several secrets are accepted during rotation.
 */
export function verifySignature(rawBody: Buffer, header: string | undefined, secrets: readonly string[]): boolean {
  if (!header || !header.startsWith('sha1=')) return false;
  const given = Buffer.from(header.slice(5).trim(), 'hex');
  if (given.length !== 20) return false;
  let ok = false;
  for (const secret of secrets) {
    const expected = createHmac('sha1', secret).update(rawBody).digest();
    // no early exit: every secret is checked so timing does not tell which one matched
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}

export function sign(rawBody: Buffer | string, secret: string): string {
  return `sha1=${createHmac('sha1', secret).update(rawBody).digest('hex')}`;
}
