import { Secret } from '@iks/config';
import { klaviyoContract } from '@iks/contracts';
import { KLAVIYO_REVISION } from '@iks/domain';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../tools/klaviyo-emulator/src';
import { KLAVIYO_SINK_SCOPES, KlaviyoOAuthClient, type KlaviyoTokens } from './klaviyo-oauth.client';
import { KlaviyoTokenSource, NeedsReauthorizationError } from './klaviyo-token-source';
import { OAuthTokenError } from './oauth.errors';
import { createPkce, createState, pkceChallenge } from './pkce';

const CLIENT_ID = 'iks-oauth-spec-client';
const CLIENT_SECRET = 'iks-oauth-spec-secret-0123456789';
const REDIRECT = 'http://127.0.0.1:9/oauth/klaviyo/callback';
const ACCOUNT = 'AcctOA';
const secret = (v: string) => new Secret(v);

let em: KlaviyoEmulator;
let clock = Date.UTC(2026, 11, 6, 12, 0, 0);

beforeEach(async () => {
  clock = Date.UTC(2026, 11, 6, 12, 0, 0);
  em = await startKlaviyoEmulator({
    port: 0,
    now: () => clock,
    accounts: [{ id: ACCOUNT, name: 'OAuth spec shop', privateKeys: ['pk_oauthspec_000000000001'] }],
    oauthApps: [
      {
        name: 'Intercom',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        redirectUris: [REDIRECT],
        scopes: [...KLAVIYO_SINK_SCOPES, 'metrics:read'],
      },
    ],
  });
});

afterEach(async () => {
  await em.close();
});

function client(clientSecret = CLIENT_SECRET): KlaviyoOAuthClient {
  return new KlaviyoOAuthClient({
    clientId: CLIENT_ID,
    clientSecret: secret(clientSecret),
    endpoints: { authorizeBaseUrl: em.url, apiBaseUrl: em.url },
    now: () => clock,
    secret,
  });
}

/** What a browser does on the authorize page: Allow for ACCOUNT; the redirect's query. */
async function authorize(url: string): Promise<URLSearchParams> {
  const page = await fetch(url);
  const html = await page.text();
  expect(page.status).toBe(200);
  const requestId = /name="request_id" value="([^"]+)"/.exec(html)?.[1];
  expect(requestId).toBeDefined();
  const answer = await fetch(`${em.url}/oauth/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: em.url },
    body: new URLSearchParams({ request_id: requestId!, account_id: ACCOUNT, decision: 'allow' }).toString(),
  });
  expect(answer.status).toBe(302);
  return new URL(answer.headers.get('location')!).searchParams;
}

async function install(c = client()): Promise<KlaviyoTokens> {
  const pkce = createPkce();
  const state = createState();
  const back = await authorize(c.authorizeUrl({ redirectUri: REDIRECT, state, codeChallenge: pkce.challenge }));
  expect(back.get('state')).toBe(state);
  return c.exchangeCode({ code: back.get('code')!, codeVerifier: pkce.verifier, redirectUri: REDIRECT });
}

async function accounts(authorization: string): Promise<number> {
  const res = await fetch(`${em.url}/api/accounts`, {
    headers: { authorization, revision: KLAVIYO_REVISION, accept: 'application/vnd.api+json' },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('PKCE and state', () => {
  it('makes a 43-character verifier and its S256 challenge (RFC 7636 appendix B)', () => {
    const p = createPkce();
    expect(p.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.challenge).toBe(pkceChallenge(p.verifier));
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
    expect(createState()).not.toBe(createState());
  });
});

describe('KlaviyoOAuthClient against the Klaviyo emulator', () => {
  it('asks for exactly the scopes the sink operations list in the contracts', () => {
    // what libs/klaviyo calls: /api/events, /api/event-bulk-create-jobs, /api/profile-import,
    // /api/data-privacy-deletion-jobs; plus GET /api/accounts when a connection is made
    const used = ['create_event', 'bulk_create_events', 'create_or_update_profile', 'request_profile_deletion'];
    const fromContracts = new Set<string>();
    for (const op of [...used, 'get_accounts']) {
      const doc = klaviyoContract(op).document as {
        paths: Record<string, Record<string, { 'x-klaviyo-scopes'?: string[] }>>;
      };
      for (const ops of Object.values(doc.paths))
        for (const o of Object.values(ops)) for (const s of o['x-klaviyo-scopes'] ?? []) fromContracts.add(s);
    }
    expect([...KLAVIYO_SINK_SCOPES].sort()).toEqual([...fromContracts].sort());
  });

  it('runs the code flow with PKCE and calls the API with the Bearer token', async () => {
    const tokens = await install();
    expect([...tokens.scopes].sort()).toEqual([...KLAVIYO_SINK_SCOPES].sort());
    expect(tokens.expiresAt).toBeGreaterThan(clock);
    expect(String(tokens.accessToken)).toBe('[redacted]');
    expect(await accounts(`Bearer ${tokens.accessToken.reveal()}`)).toBe(200);
  });

  it('refuses a wrong verifier and a replayed code, for good', async () => {
    const c = client();
    const pkce = createPkce();
    const back = await authorize(
      c.authorizeUrl({ redirectUri: REDIRECT, state: createState(), codeChallenge: pkce.challenge }),
    );
    const code = back.get('code')!;
    const wrong = await c
      .exchangeCode({ code, codeVerifier: createPkce().verifier, redirectUri: REDIRECT })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(OAuthTokenError);
    expect((wrong as OAuthTokenError).error).toBe('invalid_grant');
    expect((wrong as OAuthTokenError).permanent).toBe(true);
    // the code was spent by the failed attempt or still is single-use: a replay fails either way
    await c.exchangeCode({ code, codeVerifier: pkce.verifier, redirectUri: REDIRECT }).catch(() => undefined);
    const replay = await c.exchangeCode({ code, codeVerifier: pkce.verifier, redirectUri: REDIRECT }).catch((e) => e);
    expect(replay).toBeInstanceOf(OAuthTokenError);
    expect((replay as OAuthTokenError).error).toBe('invalid_grant');
  });

  it('names a wrong client secret, and never echoes a token in an error', async () => {
    const tokens = await install();
    const e = (await client('not-the-secret-at-all-000')
      .refresh(tokens.refreshToken)
      .catch((x: unknown) => x)) as Error;
    expect(e).toBeInstanceOf(OAuthTokenError);
    expect((e as OAuthTokenError).error).toBe('invalid_client');
    expect(e.message).not.toContain(tokens.refreshToken.reveal());
  });

  it('rotates the refresh token: the old one no longer works', async () => {
    const c = client();
    const first = await install(c);
    const second = await c.refresh(first.refreshToken);
    expect(second.refreshToken.reveal()).not.toBe(first.refreshToken.reveal());
    expect(await accounts(`Bearer ${second.accessToken.reveal()}`)).toBe(200);
    const old = await c.refresh(first.refreshToken).catch((e) => e);
    expect(old).toBeInstanceOf(OAuthTokenError);
    expect((old as OAuthTokenError).permanent).toBe(true);
  });

  it('revokes on disconnect: the refresh token and its access tokens stop working', async () => {
    const c = client();
    const tokens = await install(c);
    await c.revoke(tokens.refreshToken);
    expect(await accounts(`Bearer ${tokens.accessToken.reveal()}`)).toBe(401);
    expect(await c.refresh(tokens.refreshToken).catch((e) => (e as OAuthTokenError).permanent)).toBe(true);
  });
});

describe('KlaviyoTokenSource', () => {
  it('refreshes before expiry, once for concurrent callers, and stores the rotated grant first', async () => {
    const c = client();
    const tokens = await install(c);
    const stored: KlaviyoTokens[] = [];
    const source = new KlaviyoTokenSource(tokens, c, {
      connectionId: 'shop-a',
      refreshBeforeMs: 60_000,
      now: () => clock,
      onRotated: async (t) => {
        stored.push(t);
      },
    });
    const first = await source.authorization();
    expect(first).toBe(`Bearer ${tokens.accessToken.reveal()}`);
    expect(stored).toHaveLength(0);

    clock = tokens.expiresAt - 30_000; // inside the refresh margin
    const [a, b, d] = await Promise.all([source.authorization(), source.authorization(), source.authorization()]);
    expect(new Set([a, b, d]).size).toBe(1);
    expect(a).not.toBe(first);
    expect(stored).toHaveLength(1);
    expect(a).toBe(`Bearer ${stored[0].accessToken.reveal()}`);
    expect(await accounts(a)).toBe(200);
  });

  it('refreshes once after a 401 (token expired early), not again for a caller holding the old one', async () => {
    const c = client();
    const tokens = await install(c);
    let rotations = 0;
    const source = new KlaviyoTokenSource(tokens, c, {
      connectionId: 'shop-a',
      now: () => clock,
      onRotated: async () => {
        rotations++;
      },
    });
    const sent = await source.authorization();
    await fetch(`${em.url}/__emulator/oauth/expire-access-tokens`, {
      method: 'POST',
      body: JSON.stringify({ account_id: ACCOUNT }),
    });
    expect(await accounts(sent)).toBe(401);
    await Promise.all([source.unauthorized(sent), source.unauthorized(sent)]);
    expect(rotations).toBe(1);
    await source.unauthorized(sent); // a late caller with the old header: already refreshed
    expect(rotations).toBe(1);
    expect(await accounts(await source.authorization())).toBe(200);
  });

  it('turns to needs-reauthorization when the grant is revoked, and back with a new grant', async () => {
    const c = client();
    const tokens = await install(c);
    const failures: OAuthTokenError[] = [];
    const source = new KlaviyoTokenSource(tokens, c, {
      connectionId: 'shop-a',
      now: () => clock,
      onRotated: async () => undefined,
      onNeedsReauthorization: (e) => failures.push(e),
    });
    await fetch(`${em.url}/__emulator/oauth/revoke-grants`, {
      method: 'POST',
      body: JSON.stringify({ account_id: ACCOUNT }),
    });
    clock = tokens.expiresAt + 1;
    const e = await source.authorization().catch((x) => x);
    expect(e).toBeInstanceOf(NeedsReauthorizationError);
    expect((e as NeedsReauthorizationError).connectionId).toBe('shop-a');
    expect(source.needsReauthorization).toBe(true);
    expect(failures).toHaveLength(1);
    await expect(source.authorization()).rejects.toBeInstanceOf(NeedsReauthorizationError);
    expect(failures).toHaveLength(1); // no request is made while it waits for the user

    source.replace(await install(c));
    expect(source.needsReauthorization).toBe(false);
    expect(await accounts(await source.authorization())).toBe(200);
  });

  it('a refresh refused because another holder rotated the grant adopts the newer one instead of needing re-authorization', async () => {
    const c = client();
    const tokens = await install(c);
    let shared: KlaviyoTokens | null = null; // what the connections topic would carry
    const options = (id: string) => ({
      connectionId: id,
      now: () => clock,
      onRotated: async (t: KlaviyoTokens) => {
        shared = t;
      },
    });
    const first = new KlaviyoTokenSource(tokens, c, options('shop-a'));
    const refusedWith: string[] = [];
    const second = new KlaviyoTokenSource(tokens, c, {
      ...options('shop-a'),
      adopt: async (refused, e) => {
        refusedWith.push(`${refused.refreshToken.reveal() === tokens.refreshToken.reveal()} ${e.error}`);
        return shared;
      },
    });
    clock = tokens.expiresAt + 1;
    const a = await first.authorization();
    expect(shared).not.toBeNull();
    const b = await second.authorization(); // its refresh token was rotated away by `first`
    expect(refusedWith).toEqual(['true invalid_grant']);
    expect(b).toBe(a);
    expect(second.needsReauthorization).toBe(false);
    expect(await accounts(b)).toBe(200);
  });
});
