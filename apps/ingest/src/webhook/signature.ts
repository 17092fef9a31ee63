import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Intercom signs each webhook with `X-Hub-Signature: sha1=<hex>`: the HMAC-SHA1 of the raw
 * request body keyed with the app's client secret. Compare on the raw bytes (a re-serialised
 * body does not match) and in constant time. Several secrets are accepted during rotation.
 */
export function verifySignature(
  rawBody: Buffer,
  header: string | readonly string[] | undefined,
  secrets: readonly string[],
): boolean {
  // Exactly one header of exactly `sha1=` and 40 hex digits: Buffer.from(hex) stops silently at the
  // first non-hex character, and a repeated header arrives joined with ", " or as an array.
  if (typeof header !== 'string') return false;
  const match = /^sha1=([0-9a-fA-F]{40})$/.exec(header.trim());
  if (!match) return false;
  const given = Buffer.from(match[1], 'hex');
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
