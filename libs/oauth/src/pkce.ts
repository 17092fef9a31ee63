import { createHash, randomBytes } from 'node:crypto';

const b64url = (b: Buffer): string => b.toString('base64url');

/** RFC 7636: a 43-character verifier (32 random bytes, base64url) and its S256 challenge. */
export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
  readonly method: 'S256';
}

export function createPkce(): Pkce {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' };
}

export function pkceChallenge(verifier: string): string {
  return b64url(createHash('sha256').update(verifier, 'ascii').digest());
}

/** An unguessable `state` (RFC 6749 10.12): 32 random bytes, base64url. */
export function createState(): string {
  return b64url(randomBytes(32));
}
