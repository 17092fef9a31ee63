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
  const given = signatureOf(header);
  return given !== null && signedWithAny(rawBody, given, secrets);
}

/**
 * The 20 bytes of a well-formed header, else null. Exactly one header of exactly `sha1=` and 40
 * hex digits: Buffer.from(hex) stops silently at the first non-hex character, and a repeated
 * header arrives joined with ", " or as an array.
 */
export function signatureOf(header: string | readonly string[] | undefined): Buffer | null {
  if (typeof header !== 'string') return null;
  const match = /^sha1=([0-9a-fA-F]{40})$/.exec(header.trim());
  return match ? Buffer.from(match[1], 'hex') : null;
}

/** Whether one of `secrets` signed `rawBody` with `given` (signatureOf's bytes). */
export function signedWithAny(rawBody: Buffer, given: Buffer, secrets: readonly string[]): boolean {
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
