import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '@iks/config';
import type { IntercomObject } from '@iks/intercom';
import { deriveNotifications, type BackfillKind, type BackfillRecord } from '@iks/backfill';
import {
  generateDataset,
  startIntercomEmulator,
  type Dataset,
  type IntercomEmulator,
} from '../../../../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../../tools/klaviyo-emulator/src';
import { testConfig } from '../../../../test/support/test-config';
import { runBackfillCommand } from './backfill.command';
import { runConnectionsCommand } from './connections.command';
import { runReconcileCommand } from './reconcile.command';
import { readRawNotifications } from '../../../../test/support/raw-topic';

jest.setTimeout(120_000);

const KEY = `k1:${randomBytes(32).toString('base64')}`;
const ACME = { token: 'tok_acme_cli_0123456789', clientSecret: 'cs_acme_cli_0123456789', key: 'pk_acme_cli_000001' };
const SINCE = '2020-01-01';
const UNTIL = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) },
    out,
    err,
    text: () => [...out, ...err].join('\n'),
  };
}

/** What the one derivation gives for a workspace's objects (the notifications a backfill writes, before their connection). */
function derived(d: Dataset): BackfillRecord[] {
  const derive = (kind: BackfillKind, o: unknown) =>
    deriveNotifications(kind, o as IntercomObject, { appId: d.appId, source: 'backfill' }).notifications.map(
      ({ key, notification }) => ({ key, notification }),
    );
  return [
    ...d.contacts.flatMap((c) => derive('contacts', c)),
    ...d.conversations.flatMap((c) => derive('conversations', c)),
    ...d.tickets.flatMap((t) => derive('tickets', t)),
  ];
}

describe('backfill and reconcile --connection (connections topic, emulator workspaces, real broker)', () => {
  let emu: IntercomEmulator;
  let klaviyo: KlaviyoEmulator;
  let config: Config;
  const quiet = { progress: { write: () => true, isTTY: false } as never, onInterrupt: () => () => undefined };

  beforeAll(async () => {
    emu = await startIntercomEmulator({
      dataset: { seed: 3, contacts: 4, conversations: 3, tickets: 2 },
      workspaces: [
        {
          appId: 'wsacme',
          dataset: generateDataset({
            seed: 9,
            contacts: 6,
            conversations: 5,
            tickets: 3,
            appId: 'wsacme',
            idBase: 2_000_000,
          }),
          accessTokens: [ACME.token],
        },
      ],
    });
    klaviyo = await startKlaviyoEmulator({
      port: 0,
      apiKeys: ['pk_default_cli_0001'],
      accounts: [{ id: 'BrandA', name: 'Brand A', privateKeys: [ACME.key] }],
    });
    config = testConfig('cli', {
      INTERCOM_ACCESS_TOKEN: emu.accessToken,
      INTERCOM_BASE_URL: emu.url,
      CONNECTION_SECRET_KEYS: KEY,
    });
    const add = capture();
    const code = await runConnectionsCommand(
      [
        'add',
        '--id',
        'acme',
        '--intercom-api-url',
        emu.url,
        '--klaviyo-api-url',
        klaviyo.url,
        '--intercom-access-token',
        ACME.token,
        '--intercom-client-secret',
        ACME.clientSecret,
        '--klaviyo-private-key',
        ACME.key,
      ],
      config,
      add.io,
      { prompt: { isTTY: false, ask: async () => 'n' }, env: {} },
    );
    expect(add.text()).toMatch(/added connection "acme"/);
    expect(code).toBe(0);
  });

  afterAll(async () => {
    await emu?.close();
    await klaviyo?.close();
  });

  it('backfill --connection reads that workspace with its token and writes its records with its connection and keys; reconcile --heal too', async () => {
    const acme = emu.workspace('wsacme').dataset;
    const expected = derived(acme);
    const before = emu.requests.length;
    const c = capture();
    const code = await runBackfillCommand(
      [
        '--since',
        SINCE,
        '--until',
        UNTIL,
        '--per-page',
        '4',
        '--connection',
        'acme',
        '--checkpoint-dir',
        mkdtempSync(join(tmpdir(), 'iks-bf-conn-')),
      ],
      config,
      c.io,
      quiet,
    );
    expect(c.err.filter((l) => !l.startsWith('backfill: connection "acme"'))).toEqual([]);
    expect(code).toBe(0);
    // only the acme workspace was read (the emulator knows a workspace by its token)
    expect(new Set(emu.requests.slice(before).map((r) => r.appId))).toEqual(new Set(['wsacme']));

    const seen = await readRawNotifications(config, expected.length);
    expect(seen).toHaveLength(expected.length);
    const byId = new Map(seen.map((s) => [s.value.notification_id, s]));
    for (const e of expected) {
      const got = byId.get(e.notification.notification_id)!;
      expect(got.key).toBe(`acme/${e.key}`);
      expect(got.value).toMatchObject({
        ...e.notification,
        connection_id: 'acme',
        app_id: 'wsacme',
        received_at: expect.any(Number),
      });
    }

    // reconcile --heal --connection: nothing was produced downstream (no transformer here), so all is missing and healed as acme's
    const r = capture();
    expect(
      await runReconcileCommand(
        [
          '--since',
          SINCE,
          '--until',
          UNTIL,
          '--heal',
          '--only',
          'conversations',
          '--connection',
          'acme',
          '--index-dir',
          mkdtempSync(join(tmpdir(), 'iks-rc-conn-')),
        ],
        config,
        r.io,
        quiet,
      ),
    ).toBe(0);
    expect(r.out[0]).toMatch(/ \(--heal\) connection acme \(workspace wsacme\)$/);
    const conversations = expected.filter((e) => e.notification.topic.startsWith('conversation.'));
    const all = await readRawNotifications(config, expected.length + conversations.length);
    const healed = all.filter((s) => s.value.source === 'reconcile');
    expect(healed.length).toBeGreaterThan(0);
    for (const h of healed) {
      expect(h.key.startsWith('acme/conversation:')).toBe(true);
      expect(h.value).toMatchObject({ connection_id: 'acme', app_id: 'wsacme' });
    }
  });

  it('an unknown, a paused or a removed connection: a clear message, exit 2, nothing read or written', async () => {
    const args = (id: string) => ['--since', SINCE, '--until', UNTIL, '--connection', id, '--checkpoint-dir', tmpdir()];
    const before = emu.requests.length;
    const unknown = capture();
    expect(await runBackfillCommand(args('nope'), config, unknown.io, quiet)).toBe(2);
    expect(unknown.err.join('\n')).toMatch(/^backfill: unknown connection "nope" \(known: acme, default\)$/);

    const pause = capture();
    expect(await runConnectionsCommand(['pause', 'acme'], config, pause.io, {})).toBe(0);
    const paused = capture();
    expect(await runBackfillCommand(args('acme'), config, paused.io, quiet)).toBe(2);
    expect(paused.err.join('\n')).toMatch(/connection "acme" is paused: resume it first/);
    const rec = capture();
    expect(
      await runReconcileCommand(
        ['--since', SINCE, '--until', UNTIL, '--connection', 'acme', '--index-dir', tmpdir()],
        config,
        rec.io,
        quiet,
      ),
    ).toBe(2);
    expect(rec.err.join('\n')).toMatch(/^reconcile: connection "acme" is paused/);

    const remove = capture();
    expect(
      await runConnectionsCommand(['remove', 'acme', '--yes'], config, remove.io, {
        prompt: { isTTY: false, ask: async () => 'n' },
      }),
    ).toBe(0);
    const removed = capture();
    expect(await runBackfillCommand(args('acme'), config, removed.io, quiet)).toBe(2);
    expect(removed.err.join('\n')).toMatch(/connection "acme" is removed/);
    expect(emu.requests.length).toBe(before);
  });
});
