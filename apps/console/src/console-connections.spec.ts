import { Secret } from '@iks/config';
import type { Connection } from '@iks/connections';
import { ConnectionRefusal, PendingAuthorizations } from './console-connections';
import { connectionsPage, letterConnection } from './page-models';

describe('PendingAuthorizations', () => {
  const start = {
    kind: 'klaviyo' as const,
    redirectUri: 'https://c.example/oauth/klaviyo/callback',
    verifier: 'v'.repeat(43),
    region: null,
  };

  it('gives a pending authorization back once, to the browser that started it, within its time', () => {
    let now = 1_000_000;
    const p = new PendingAuthorizations(60_000, () => now);
    const { state, expiresAt } = p.add('browser-a', start);
    expect(expiresAt).toBe(now + 60_000);
    expect(p.take(state, 'browser-a', 'klaviyo').verifier).toBe(start.verifier);
    expect(() => p.take(state, 'browser-a', 'klaviyo')).toThrow(/already used/);

    const other = p.add('browser-a', start).state;
    const err = (() => {
      try {
        p.take(other, 'browser-b', 'klaviyo');
      } catch (e) {
        return e as ConnectionRefusal;
      }
    })();
    expect(err).toBeInstanceOf(ConnectionRefusal);
    expect(err!.status).toBe(400);
    expect(err!.message).toMatch(/another browser session/);
    expect(() => p.take(other, 'browser-a', 'klaviyo')).toThrow(/already used/); // spent by the refused try

    const late = p.add('browser-a', start).state;
    now += 60_000;
    expect(() => p.take(late, 'browser-a', 'klaviyo')).toThrow(/state is unknown|expired/);
    expect(p.size).toBe(0);

    const wrongKind = p.add('browser-a', start).state;
    expect(() => p.take(wrongKind, 'browser-a', 'intercom')).toThrow(/state is unknown/);
    expect(() => p.take(undefined, 'browser-a', 'klaviyo')).toThrow(/state is unknown/);
  });
});

describe('connectionsPage', () => {
  const grantToken = 'kat_secret_access_token_0001';
  const connection: Connection = {
    id: 'shop-a',
    name: 'Shop A',
    status: 'needs_reauth',
    revision: 3,
    updatedAt: Date.UTC(2026, 0, 1),
    fromEnvironment: false,
    intercom: {
      appId: 'wsa',
      region: 'EU',
      apiBaseUrl: 'https://api.eu.intercom.io',
      auth: 'oauth',
      clientSecret: new Secret('client-secret-0001'),
      accessToken: new Secret('intercom-token-0001'),
    },
    klaviyo: {
      accountId: 'AcctA1',
      apiBaseUrl: 'https://a.klaviyo.com',
      auth: 'oauth',
      privateKey: null,
      oauth: {
        clientId: 'cid',
        accessToken: new Secret(grantToken),
        refreshToken: new Secret('krt_secret_refresh_0001'),
        expiresAt: Date.UTC(2026, 0, 1, 1),
        scopes: ['events:write'],
      },
    },
    settings: { metricNames: {}, defaultPhoneRegion: null, deleteOnArchive: false },
  };

  it('lists what people need (status needs_reauth included) and no secret', () => {
    const m = connectionsPage({
      canAct: true,
      canStore: true,
      connections: [connection],
      unusable: [],
      klaviyo: { redirectUri: 'https://c.example/oauth/klaviyo/callback' },
      intercom: null,
      klaviyoHalves: [],
      intercomHalves: [],
    });
    expect(m.connections).toEqual([
      expect.objectContaining({
        id: 'shop-a',
        appId: 'wsa',
        region: 'EU',
        accountId: 'AcctA1',
        intercomAuth: 'oauth',
        klaviyoAuth: 'OAuth',
        status: 'needs_reauth',
        grantExpires: '2026-01-01T01:00:00Z',
      }),
    ]);
    const text = JSON.stringify(m);
    for (const s of ['client-secret-0001', 'intercom-token-0001', grantToken, 'krt_secret_refresh_0001'])
      expect(text).not.toContain(s);
  });

  it("tells a dead letter's connection by its key", () => {
    const letter = (key: string | null) =>
      ({ letter: { key: key === null ? null : Buffer.from(key) } }) as unknown as Parameters<
        typeof letterConnection
      >[0];
    expect(letterConnection(letter('shop-a/contact:1'))).toBe('shop-a');
    expect(letterConnection(letter('contact:1'))).toBe('default');
    expect(letterConnection(letter(null))).toBe('default');
  });
});
