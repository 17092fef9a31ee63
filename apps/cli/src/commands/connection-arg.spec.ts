import { loadConfig } from '@iks/config';
import { StaticConnections } from '@iks/connections';
import type { IntercomClient, IntercomClientFactory } from '@iks/intercom';
import { connectionOfKey } from '@iks/domain';
import { RecordDecodeError } from '@iks/kafka';
import type { BackfillRecord } from '@iks/backfill';
import { testConnection } from '../../../../test/support/connections';
import { parseBackfillArgs } from './backfill.args';
import type { Parsed } from './command-args';
import { runBackfill } from './backfill.command';
import { intercomConnection, knownConnection } from './connection-arg';
import { connectionOfLetter, connectionOfRecord, splitCount } from './connection-filter';
import { parseDlqArgs } from './dlq.args';
import { reprocessGroup } from './dlq.command';
import { parseReconcileArgs } from './reconcile.args';
import { runReconcile } from './reconcile.command';
import { parseReplayArgs } from './replay.args';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) } };
}

const WINDOW = ['--since', '2026-01-01', '--until', '2026-02-01'];

/** The arguments of a command line that parses (the test fails otherwise). */
function parsed<T>(p: Parsed<T>): T {
  if (!p.ok) throw new Error(p.error);
  return p.value;
}

describe('--connection: parsing', () => {
  it('backfill, reconcile, replay and dlq take it; absent is null (the default connection, as before)', () => {
    expect(parseBackfillArgs([...WINDOW, '--connection', 'acme'])).toMatchObject({
      ok: true,
      value: { connection: 'acme' },
    });
    expect(parseBackfillArgs(WINDOW)).toMatchObject({ ok: true, value: { connection: null } });
    expect(parseReconcileArgs([...WINDOW, '--connection=brand-b'])).toMatchObject({
      ok: true,
      value: { connection: 'brand-b' },
    });
    expect(parseReconcileArgs(WINDOW)).toMatchObject({ ok: true, value: { connection: null } });
    expect(
      parseReplayArgs(['--topic', 'klaviyo.events.v1', '--from-beginning', '--connection', 'default']),
    ).toMatchObject({ ok: true, value: { connection: 'default', group: null } });
    expect(parseDlqArgs(['list', 'klaviyo.events.v1', '--connection', 'acme'])).toMatchObject({
      ok: true,
      value: { sub: 'list', flags: { connection: 'acme' } },
    });
    expect(parseDlqArgs(['reprocess', 'klaviyo.events.v1', '--connection', 'acme', '--yes'])).toMatchObject({
      ok: true,
      value: { sub: 'reprocess', flags: { connection: 'acme', yes: true } },
    });
    expect(parseDlqArgs(['reprocess', 'klaviyo.events.v1'])).toMatchObject({
      ok: true,
      value: { flags: { connection: null } },
    });
  });

  it.each([
    [['--connection'], /--connection needs a value/],
    [['--connection', 'Acme'], /"Acme" is not a connection id/],
    [['--connection', 'a/b'], /is not a connection id/],
    [['--connection', 'acme', '--connection', 'b'], /--connection given twice/],
  ])('backfill %j is a usage error', (extra, message) => {
    const p = parseBackfillArgs([...WINDOW, ...(extra as string[])]);
    expect(p.ok).toBe(false);
    expect((p as { error: string }).error).toMatch(message);
  });

  it('replay --connection refuses --group (a reset group re-reads every connection)', () => {
    const p = parseReplayArgs([
      '--topic',
      'klaviyo.events.v1',
      '--from-beginning',
      '--group',
      'g',
      '--connection',
      'a',
    ]);
    expect(p.ok).toBe(false);
    expect((p as { error: string }).error).toMatch(/--connection applies to a replay through a separate group only/);
  });

  it('a reprocess of one connection keeps its progress apart from the reprocess of all', () => {
    expect(reprocessGroup('p.klaviyo.events.v1', null)).toBe('iks-dlq-reprocess.p.klaviyo.events.v1');
    expect(reprocessGroup('p.klaviyo.events.v1', 'acme')).toBe('iks-dlq-reprocess.p.klaviyo.events.v1.connection.acme');
  });
});

describe('--connection: which connection, or exit 2', () => {
  const config = loadConfig({ INTERCOM_ACCESS_TOKEN: 'env-token' }, 'cli');
  const connections = new StaticConnections([
    testConnection('acme', 'wsacme', { accessToken: 'acme-token', apiBaseUrl: 'https://api.eu.intercom.io' }),
    testConnection('paused-one', 'wsp', { accessToken: 't', status: 'paused' }),
    testConnection('gone', 'wsg', { accessToken: 't', status: 'removed' }),
    testConnection('tokenless', 'wst', { accessToken: null }),
  ]);

  it('an active connection with a token; no --connection and "default" are the environment\'s', async () => {
    const t = capture();
    const acme = await intercomConnection('backfill', 'acme', config, t.io, { connections });
    expect(acme).toMatchObject({ ok: true, connection: { id: 'acme', intercom: { appId: 'wsacme' } } });
    const d = await intercomConnection('backfill', null, config, t.io, { connections });
    expect(d).toMatchObject({ ok: true, connection: { id: 'default', fromEnvironment: true } });
    expect(d.ok && d.connection.intercom.accessToken?.reveal()).toBe('env-token');
    expect(await intercomConnection('backfill', 'default', config, t.io, { connections })).toMatchObject({
      ok: true,
      connection: { id: 'default' },
    });
    expect(t.err).toEqual([]);
  });

  it.each([
    ['nope', /backfill: unknown connection "nope" \(known: acme, paused-one, tokenless\)/],
    ['gone', /connection "gone" is removed/],
    ['paused-one', /connection "paused-one" is paused: resume it first \(cli connections resume paused-one\)/],
    ['tokenless', /connection "tokenless" has no Intercom access token/],
  ])('%s: a clear message and exit 2', async (id, message) => {
    const t = capture();
    expect(await intercomConnection('backfill', id, config, t.io, { connections })).toEqual({ ok: false, code: 2 });
    expect(t.err.join('\n')).toMatch(message);
  });

  it('"default" while CONNECTIONS_DEFAULT=off is refused', async () => {
    const t = capture();
    const off = loadConfig({ CONNECTIONS_DEFAULT: 'off' }, 'cli');
    expect(await intercomConnection('reconcile', 'default', off, t.io, { connections })).toEqual({
      ok: false,
      code: 2,
    });
    expect(t.err.join('\n')).toMatch(/CONNECTIONS_DEFAULT=off/);
  });

  it('replay and dlq accept a removed connection (its records stay replayable), not an unknown one', async () => {
    const t = capture();
    expect(await knownConnection('replay', 'gone', config, t.io, { connections })).toMatchObject({ ok: true });
    expect(await knownConnection('dlq list', 'nope', config, t.io, { connections })).toEqual({ ok: false, code: 2 });
    expect(t.err.join('\n')).toMatch(/dlq list: unknown connection "nope"/);
  });

  it('backfill and reconcile exit 2 before reading Intercom or Kafka', async () => {
    const made: string[] = [];
    const intercomClient: IntercomClientFactory = (c) => {
      made.push(c.id ?? '?');
      throw new Error('not to be called');
    };
    const t = capture();
    const a = parseBackfillArgs([...WINDOW, '--connection', 'paused-one']);
    expect(await runBackfill(parsed(a), config, t.io, { connections, intercomClient })).toBe(2);
    const r = parseReconcileArgs([...WINDOW, '--connection', 'nope']);
    expect(await runReconcile(parsed(r), config, t.io, { connections, intercomClient })).toBe(2);
    expect(made).toEqual([]);
    expect(t.err.join('\n')).toMatch(/paused[\s\S]*unknown connection "nope"/);
  });

  it("backfill --connection reads that connection's workspace with its token and host, and tags every record", async () => {
    const seen: Array<{ id?: string; token?: string; url: string }> = [];
    const contact = { type: 'contact', id: 'c-77', email: 'p@example.com', updated_at: 1767300000, role: 'user' };
    const client = {
      search: async (kind: string) => ({
        items: kind === 'contacts' ? [contact] : [],
        totalCount: kind === 'contacts' ? 1 : 0,
        next: undefined,
        page: 1,
        totalPages: 1,
      }),
    } as unknown as IntercomClient;
    const intercomClient: IntercomClientFactory = (c) => {
      seen.push({ id: c.id, token: c.intercom.accessToken?.reveal(), url: c.intercom.apiBaseUrl });
      return client;
    };
    const written: BackfillRecord[] = [];
    const t = capture();
    const a = parseBackfillArgs([
      ...WINDOW,
      '--connection',
      'acme',
      '--only',
      'contacts',
      '--checkpoint-dir',
      `/tmp/iks-cli-conn-${process.pid}-${Date.now()}`,
    ]);
    const code = await runBackfill(parsed(a), config, t.io, {
      connections,
      intercomClient,
      sink: { write: async (rs) => void written.push(...rs) },
      progress: { write: () => true, isTTY: false } as never,
      onInterrupt: () => () => undefined,
    });
    expect(code).toBe(0);
    expect(seen).toEqual([{ id: 'acme', token: 'acme-token', url: 'https://api.eu.intercom.io' }]);
    expect(written.length).toBeGreaterThan(0);
    for (const r of written) {
      expect(r.key).toBe('acme/contact:c-77');
      expect(r.notification).toMatchObject({ connection_id: 'acme', app_id: 'wsacme', source: 'backfill' });
    }
  });

  it("--app-id that is not the connection's workspace is refused", async () => {
    const t = capture();
    const a = parseBackfillArgs([...WINDOW, '--connection', 'acme', '--app-id', 'other']);
    const code = await runBackfill(parsed(a), config, t.io, {
      connections,
      intercomClient: () => ({}) as IntercomClient,
    });
    expect(code).toBe(2);
    expect(t.err.join('\n')).toMatch(/--app-id other is not the workspace of connection "acme" \(wsacme\)/);
  });
});

describe('--connection: whose record is it', () => {
  it('by the key when a record cannot be read: `<connection id>/` or the default', () => {
    expect(connectionOfKey('acme/conversation:1')).toBe('acme');
    expect(connectionOfKey(Buffer.from('brand-b/contact:9'))).toBe('brand-b');
    expect(connectionOfKey('conversation:1')).toBe('default');
    expect(connectionOfKey('contact:a/b')).toBe('default');
    expect(connectionOfKey(null)).toBe('default');
  });

  it('by connection_id when it decodes, else by key; a registry that cannot answer is an error', async () => {
    const codec = (v: unknown) => ({ decodeAs: async () => v }) as never;
    const bad = { decodeAs: async () => Promise.reject(new RecordDecodeError('bad magic')) } as never;
    const down = { decodeAs: async () => Promise.reject(new Error('registry unavailable')) } as never;
    const m = { key: Buffer.from('acme/x:1'), value: Buffer.from('v') };
    expect(await connectionOfRecord(codec({ connection_id: 'globex' }), 'events', m)).toBe('globex');
    expect(await connectionOfRecord(codec({}), 'events', m)).toBe('default');
    expect(await connectionOfRecord(bad, 'events', m)).toBe('acme');
    await expect(connectionOfRecord(down, 'events', m)).rejects.toThrow(/registry unavailable/);
  });

  it("a dead letter's original: decoded against its topic, by key for a topic of no schema here", async () => {
    const codec = { decodeAs: async () => ({ connection_id: 'acme' }) } as never;
    const letter = (topic: string, key: string) => ({
      original_topic: topic,
      key: Buffer.from(key),
      value: Buffer.from('v'),
    });
    expect(await connectionOfLetter(codec, 'p.', letter('p.klaviyo.events.v1', 'x'))).toBe('acme');
    expect(await connectionOfLetter(codec, 'p.', letter('elsewhere', 'globex/k'))).toBe('globex');
    expect(splitCount(['a', 'b', 'a', 'default'], 'a')).toEqual({ mine: 2, others: 2 });
  });
});
