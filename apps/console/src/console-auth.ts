import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Secret } from '@iks/config';

export const COOKIE = 'iks_console';
export const OPERATOR_HEADER = 'x-console-operator-token';

export function sameSecret(given: string | undefined, secret: Secret): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret.reveal());
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/** Read access: open on loopback without CONSOLE_TOKEN; else a bearer token or the SameSite=Strict cookie /login sets. */
export function hasReadAccess(req: FastifyRequest, token: Secret | null): boolean {
  if (!token) return true;
  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  return sameSecret(bearer, token) || sameSecret(cookieOf(req, COOKIE), token);
}

/**
 * An action (reprocess) must come from this console's own page: the operator token in a custom
 * header (a cross-site form cannot set one, and a cross-site fetch with it needs a CORS
 * preflight this server never grants), JSON only, and an Origin, when sent, of this host.
 */
export function actionRefusal(req: FastifyRequest, operatorToken: Secret | null): string | null {
  if (!operatorToken) return 'actions are off: CONSOLE_OPERATOR_TOKEN is not set';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`)
    return 'cross-site request refused';
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross-site request refused';
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return 'JSON only';
  const given = req.headers[OPERATOR_HEADER];
  if (!sameSecret(Array.isArray(given) ? given[0] : given, operatorToken)) return 'operator token missing or wrong';
  return null;
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // no inline script or style at all: the pages' CSS and JS are files (/static/)
  'content-security-policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export async function guard(req: FastifyRequest, reply: FastifyReply, token: Secret | null): Promise<void> {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
  const path = req.url.split('?')[0];
  // open: the sign-in page, its CSS and JS, and what probes and Prometheus read (no personal data);
  // the OAuth callbacks (a redirect from Klaviyo or Intercom: the SameSite=Strict cookie is not
  // sent) accept only a pending state of the browser that started it (console-connections.ts)
  if (
    path === '/login' ||
    path === '/oauth/klaviyo/callback' ||
    path === '/oauth/intercom/callback' ||
    path.startsWith('/static/') ||
    path === '/health/live' ||
    path === '/health/ready' ||
    path === '/ops/metrics'
  )
    return;
  if (!hasReadAccess(req, token)) {
    if (req.method === 'GET' && !path.startsWith('/api/')) await reply.code(302).header('location', '/login').send();
    else await reply.code(401).send({ statusCode: 401, message: 'console token required' });
  }
}
