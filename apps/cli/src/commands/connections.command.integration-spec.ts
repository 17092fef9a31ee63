import { randomBytes } from 'node:crypto';
import type { Config } from '@iks/config';
import { generateDataset, startIntercomEmulator, type IntercomEmulator } from '../../../../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../../tools/klaviyo-emulator/src';
import { freshTopicEnv } from '../../../../test/support/test-config';
import { loadConfig } from '@iks/config';
import { createSinkRunner } from '@iks/sink';
import { METRICS } from '@iks/mapping';
import { waitFor } from '../../../../test/support/wait-for';
import { runConnectionsCommand, type ConnectionsDeps } from './connections.command';

const K1 = `k1:${randomBytes(32).toString('base64')}`;
const K2 = `k2:${randomBytes(32).toString('base64')}`;
const ACME = {
  token: 'tok_acme_secret_0123456789',
  clientSecret: 'cs_acme_secret_0123456789',
  key: 'pk_brand_a_secret_0001',
};
const GLOBEX = {
  token: 'tok_globex_secret_0123456789',
  clientSecret: 'cs_globex_secret_0123',
  key: 'pk_brand_b_secret_0002',
};
const SECRETS = [...Object.values(ACME), ...Object.values(GLOBEX)];

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) }, out, err };
}

describe('cli connections add|list|pause|resume|remove|reseal (emulators, real broker)', () => {
  let acme: IntercomEmulator;
  let globex: IntercomEmulator;
  let klaviyo: KlaviyoEmulator;
  let topics: Record<string, string>;
  const everything: string[] = [];

  const configWith = (keys: string | undefined, extra: Record<string, string> = {}): Config =>
    loadConfig(
      {
        KAFKA_BROKERS: process.env.KAFKA_BROKERS,
        SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
        LOG_LEVEL: 'error',
        ...topics,
        ...(keys ? { CONNECTION_SECRET_KEYS: keys } : {}),
        ...extra,
      },
      'cli',
    );

  async function cli(args: string[], config = configWith(K1), deps: ConnectionsDeps = {}) {
    const c = capture();
    const code = await runConnectionsCommand(args, config, c.io, {
      prompt: { isTTY: false, ask: async () => 'n' },
      env: {},
      ...deps,
    });
    everything.push(...c.out, ...c.err);
    return { code, out: c.out.join('\n'), err: c.err.join('\n') };
  }

  const addArgs = (id: string, intercom: IntercomEmulator, s: typeof ACME) => [
    'add',
    '--id',
    id,
    '--intercom-api-url',
    intercom.url,
    '--klaviyo-api-url',
    klaviyo.url,
    '--intercom-access-token',
    s.token,
    '--intercom-client-secret',
    s.clientSecret,
    '--klaviyo-private-key',
    s.key,
  ];

  beforeAll(async () => {
    acme = await startIntercomEmulator({
      dataset: { ...generateDataset({ contacts: 1, conversations: 0, tickets: 0 }), appId: 'wsacme' },
      accessToken: ACME.token,
    });
    globex = await startIntercomEmulator({
      dataset: { ...generateDataset({ contacts: 1, conversations: 0, tickets: 0 }), appId: 'wsglobex' },
      accessToken: GLOBEX.token,
    });
    klaviyo = await startKlaviyoEmulator({
      port: 0,
      apiKeys: ['pk_default_key_0001'],
      accounts: [
        { id: 'BrandA', name: 'Brand A', privateKeys: [ACME.key] },
        { id: 'BrandB', name: 'Brand B', privateKeys: [GLOBEX.key] },
      ],
    });
  });

  beforeEach(() => {
    topics = freshTopicEnv('clic');
  });

  afterAll(async () => {
    await acme?.close();
    await globex?.close();
    await klaviyo?.close();
    // nothing the CLI printed, in any test, holds a secret
    for (const s of SECRETS) expect(everything.join('\n')).not.toContain(s);
  });

  it('add validates live (GET /me, GET /api/accounts) and writes; list shows the connection and its key id, never a secret', async () => {
    const added = await cli([
      'add',
      ...addArgs('acme', acme, ACME).slice(1),
      '--name',
      'ACME Corp',
      '--default-phone-region',
      'GB',
    ]);
    expect(added.err).toBe('');
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/Intercom: workspace wsacme/);
    expect(added.out).toMatch(/Klaviyo: account BrandA "Brand A"/);
    expect(added.out).toMatch(
      /added connection "acme" \(revision 1\): Intercom workspace wsacme -> Klaviyo account BrandA; secrets sealed under key "k1"/,
    );
    expect(acme.requests.filter((r) => r.path === '/me')).not.toHaveLength(0);
    expect(
      klaviyo
        .account('BrandA')
        .store.requestLog()
        .filter((r) => r.path.startsWith('/api/accounts')),
    ).toEqual([expect.objectContaining({ method: 'GET', status: 200 })]);

    // secrets from the environment and from standard input
    const fromEnv = await cli(
      [
        ...addArgs('globex', globex, GLOBEX).slice(0, 7),
        '--intercom-access-token',
        'env:GLOBEX_TOKEN',
        '--intercom-client-secret',
        '-',
        '--klaviyo-private-key',
        'env:GLOBEX_KEY',
        '--intercom-app-id',
        'wsglobex',
        '--intercom-region',
        'EU',
      ],
      configWith(K1),
      {
        env: { GLOBEX_TOKEN: GLOBEX.token, GLOBEX_KEY: GLOBEX.key },
        readStdin: async () => `${GLOBEX.clientSecret}\n`,
      },
    );
    expect(fromEnv.err).toBe('');
    expect(fromEnv.code).toBe(0);

    const listed = await cli(['list'], configWith(K1, { INTERCOM_CLIENT_SECRET: 'env-secret-xyz-0123' }));
    expect(listed.code).toBe(0);
    const lines = listed.out.split('\n');
    expect(lines[0]).toBe('ID\tSTATUS\tREV\tINTERCOM WORKSPACE\tKLAVIYO ACCOUNT\tKEY IDS\tNAME');
    expect(lines.slice(1)).toEqual([
      'default\tactive\t-\tany unclaimed\t-\t(environment)\tdefault (environment)',
      'acme\tactive\t1\twsacme\tBrandA\tk1\tACME Corp',
      'globex\tactive\t1\twsglobex\tBrandB\tk1\tglobex',
    ]);
    expect(listed.out).not.toContain('env-secret-xyz-0123');

    const json = await cli(['list', '--json'], configWith(K1, { CONNECTIONS_DEFAULT: 'off' }));
    const rows = json.out.split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.id)).toEqual(['acme', 'globex']);
    expect(rows[1]).toMatchObject({
      intercom_app_id: 'wsglobex',
      intercom_region: 'EU',
      intercom_api_url: globex.url,
      klaviyo_account_id: 'BrandB',
      key_ids: ['k1'],
      secrets: { intercom_client_secret: true, intercom_access_token: true, klaviyo_private_key: true },
    });
  });

  it('CONNECTIONS_SEED_EXAMPLES=on: a new connection gets one example profile and an example event of each of the nine metrics, in its own account', async () => {
    const config = configWith(K1, { CONNECTIONS_SEED_EXAMPLES: 'on', CONNECTIONS_DEFAULT: 'off' });
    const added = await cli(addArgs('acme', acme, ACME), config);
    expect({ code: added.code, err: added.err }).toEqual({ code: 0, err: '' });
    expect(added.out).toContain('seeded examples (CONNECTIONS_SEED_EXAMPLES): 1 profile and 9 events');
    const sink = await createSinkRunner(
      loadConfig(
        {
          ...Object.fromEntries(
            Object.entries(process.env).filter(([k]) => /^(KAFKA_BROKERS|SCHEMA_REGISTRY_URL)$/.test(k)),
          ),
          LOG_LEVEL: 'error',
          ...topics,
          CONNECTION_SECRET_KEYS: K1,
          CONNECTIONS_DEFAULT: 'off',
          SINK_BATCH_MAX_WAIT_MS: '50',
        },
        'sink',
      ),
    );
    try {
      await sink.start();
      const account = klaviyo.account('BrandA').store;
      await waitFor(() => account.events.filter((e) => e.unique_id.startsWith('example:')).length === 9, {
        what: "the nine example events in the connection's account",
        timeoutMs: 60_000,
      });
      const examples = account.events.filter((e) => e.unique_id.startsWith('example:'));
      expect(examples.map((e) => e.metric).sort()).toEqual(Object.values(METRICS).sort());
      expect(examples.every((e) => e.properties.Example === true)).toBe(true);
      await waitFor(() => account.profiles().find((p) => p.email === 'example.person@example.com'), {
        what: 'the example profile',
      });
      expect(klaviyo.account('BrandB').store.events).toHaveLength(0); // no other account is touched
    } finally {
      await sink.stop();
    }
  });

  it('refuses what the vendors refuse, a workspace already claimed, an id in use, and writes nothing then', async () => {
    expect((await cli(addArgs('acme', acme, ACME))).code).toBe(0);

    const badToken = await cli(addArgs('x1', acme, { ...ACME, token: 'tok_wrong_0123456789' }));
    expect(badToken.code).toBe(1);
    expect(badToken.err).toMatch(/connections add: Intercom refused the access token \(401 unauthorized\)/);
    const badKey = await cli(addArgs('x2', globex, { ...GLOBEX, key: 'pk_nobodys_key_123456' }));
    expect(badKey.code).toBe(1);
    expect(badKey.err).toMatch(/connections add: Klaviyo refused the private key \(401 authentication_failed\)/);
    const otherWorkspace = await cli([...addArgs('x3', globex, GLOBEX), '--intercom-app-id', 'wsother']);
    expect(otherWorkspace.code).toBe(1);
    expect(otherWorkspace.err).toMatch(/belongs to workspace wsglobex, not wsother/);
    const claimed = await cli(addArgs('acme-2', acme, ACME));
    expect(claimed.code).toBe(1);
    expect(claimed.err).toMatch(/workspace wsacme is already claimed by connection "acme"/);
    const again = await cli(addArgs('acme', globex, GLOBEX));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/connection "acme" exists \(active, revision 1\)/);

    const json = await cli(['list', '--json'], configWith(K1, { CONNECTIONS_DEFAULT: 'off' }));
    expect(json.out.split('\n').map((l) => JSON.parse(l).id)).toEqual(['acme']);
  });

  it('usage and configuration errors exit 2 before anything is read or written', async () => {
    const noKeys = await cli(addArgs('acme', acme, ACME), configWith(undefined));
    expect(noKeys.code).toBe(2);
    expect(noKeys.err).toMatch(/CONNECTION_SECRET_KEYS is not set/);
    const missing = await cli(addArgs('acme', acme, ACME).slice(0, -2));
    expect(missing).toMatchObject({ code: 2, err: expect.stringMatching(/needs --klaviyo-private-key/) });
    expect((await cli(addArgs('Not_An_Id', acme, ACME))).err).toMatch(/--id: connection id "Not_An_Id" must be/);
    expect((await cli(addArgs('default', acme, ACME))).err).toMatch(/"default" is the environment's connection/);
    const noVar = await cli([...addArgs('acme', acme, ACME).slice(0, -2), '--klaviyo-private-key', 'env:NOPE']);
    expect(noVar).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--klaviyo-private-key env:NOPE: the variable is not set/),
    });
    const region = await cli([...addArgs('acme', acme, ACME), '--intercom-region', 'MARS']);
    expect(region.code).toBe(2);
    expect((await cli(['pause'])).code).toBe(2);
  });

  it('pause, resume, remove (asks, or --yes) and reseal after a key rotation', async () => {
    expect((await cli(addArgs('acme', acme, ACME))).code).toBe(0);
    expect(await cli(['pause', 'acme'])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/"acme" \(revision 2\) paused/),
    });
    expect(await cli(['resume', 'acme'])).toMatchObject({ code: 0, out: expect.stringMatching(/revision 3\) active/) });
    expect(await cli(['pause', 'nobody'])).toMatchObject({
      code: 1,
      err: expect.stringMatching(/no connection "nobody"/),
    });
    expect((await cli(['remove', 'acme'])).code).toBe(2); // not a terminal, no --yes
    expect(
      await cli(['remove', 'acme'], configWith(K1), { prompt: { isTTY: true, ask: async () => 'n' } }),
    ).toMatchObject({
      code: 1,
      err: expect.stringMatching(/cancelled/),
    });

    const rotated = configWith(`${K2},${K1}`);
    expect(await cli(['reseal'], rotated)).toMatchObject({
      code: 0,
      out: 'resealed 1 connection(s) under key "k2": acme; 0 already under it',
    });
    expect((await cli(['list'], configWith(K2))).out).toMatch(/^acme\tactive\t4\twsacme\tBrandA\tk2\tacme$/m);
    expect(await cli(['remove', 'acme', '--yes'], configWith(K2))).toMatchObject({
      code: 0,
      out: expect.stringMatching(/revision 5\) removed/),
    });
    // the workspace is free again: the same id can be added anew
    expect(await cli(addArgs('acme', acme, ACME), configWith(K2))).toMatchObject({
      code: 0,
      out: expect.stringMatching(/revision 6/),
    });
  });

  it('a key dropped too early: list reports the connection UNUSABLE naming the key id, reseal exits 1, add refuses its id', async () => {
    expect((await cli(addArgs('acme', acme, ACME))).code).toBe(0);
    const tooEarly = configWith(K2, { CONNECTIONS_DEFAULT: 'off' });
    const listed = await cli(['list'], tooEarly);
    expect(listed.code).toBe(0);
    expect(listed.out.split('\n')[1]).toMatch(
      /^acme\tUNUSABLE\t1\t-\t-\t-\t.*sealed under key id "k1", which CONNECTION_SECRET_KEYS does not list \(it lists "k2"\)$/,
    );
    const resealed = await cli(['reseal'], tooEarly);
    expect(resealed.code).toBe(1);
    expect(resealed.err).toMatch(/"acme" cannot be read, not resealed/);
    expect(resealed.err).toMatch(/keep the keys those records need in CONNECTION_SECRET_KEYS/);
    const again = await cli(addArgs('acme', acme, ACME), tooEarly);
    expect(again).toMatchObject({ code: 1, err: expect.stringMatching(/"acme" exists but cannot be read/) });
    // with the old key listed again, all is readable and reseal moves it to the new key
    expect((await cli(['reseal'], configWith(`${K2},${K1}`))).code).toBe(0);
    expect((await cli(['list'], tooEarly)).out).toMatch(/^acme\tactive\t2\twsacme\tBrandA\tk2\tacme$/m);
  });
});
