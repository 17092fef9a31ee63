import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { defaultConnectionFromConfig, StaticConnections, type Connection } from '@iks/connections';
import { contactIdsIn } from '@iks/domain';
import { sharedSubjects } from '@iks/erasure';
import {
  AvroCodec,
  createKafka,
  createProducer,
  notificationFromAvro,
  outageToAvro,
  reconcileReportFromAvro,
  topicName,
} from '@iks/kafka';
import {
  conversationLifecycle,
  generateDataset,
  startIntercomEmulator,
  type IntercomEmulator,
} from '../../../tools/intercom-emulator/src';
import { testConnection } from '../../../test/support/connections';
import { BodyOpener, TopicTap } from '../../../test/support/raw-topic';
import { TEST_KEY_RING, testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import type { ReconcilerRunner } from './reconciler.runner';
import { createReconcilerRunner } from './reconciler-stage.module';

jest.setTimeout(120_000);

const NOW = Math.floor(Date.now() / 1000);

/** A workspace of the emulator: a few contacts and one conversation that lived half an hour ago (inside the scheduled window). */
function workspaceData(appId: string, idBase: number, conversationId: string) {
  const data = generateDataset({ seed: 5 + idBase, contacts: 2, conversations: 0, tickets: 0, appId, idBase });
  const life = conversationLifecycle({
    contact: data.contacts.find((c) => c.email)!,
    admin: data.admins[0],
    startAt: NOW - 1800,
    appId,
    id: conversationId,
    rating: 4,
  });
  return { ...data, conversations: [life.at(-1)!.data.item], tickets: [] };
}

describe('ReconcilerRunner over several connections (emulator workspaces, real broker)', () => {
  let emu: IntercomEmulator;
  let runner: ReconcilerRunner | undefined;
  let tap: TopicTap | undefined;
  let opener: BodyOpener | undefined;

  afterAll(async () => {
    await tap?.stop().catch(() => undefined);
    await opener?.stop().catch(() => undefined);
    await runner?.stop();
    await emu?.close();
  });

  it('one loop per connection with a token: its workspace, its keys and connection_id, its metrics and reports; added and removed connections follow', async () => {
    emu = await startIntercomEmulator({
      dataset: workspaceData('emu1a2b3', 0, '7101'),
      workspaces: [
        { appId: 'wsacme', dataset: workspaceData('wsacme', 2_000_000, '7201'), accessTokens: ['tok-acme-0001'] },
        { appId: 'wsglobex', dataset: workspaceData('wsglobex', 3_000_000, '7301'), accessTokens: ['tok-glob-0001'] },
      ],
    });
    const config = testConfig('reconciler', {
      INTERCOM_ACCESS_TOKEN: emu.accessToken,
      INTERCOM_BASE_URL: emu.url,
      RECONCILE_SETTLE_MS: '0',
      RECONCILE_OUTAGE_MARGIN_MS: '0',
      RECONCILE_INTERVAL_MS: '3600000',
      RECONCILE_WINDOW_MS: '7200000',
      RECONCILE_INDEX_DIR: mkdtempSync(join(tmpdir(), 'iks-rc-conn-')),
      CONNECTION_SECRET_KEYS: TEST_KEY_RING,
    });
    const prefix = config.kafka.topicPrefix;
    const acme: Connection = testConnection('acme', 'wsacme', { accessToken: 'tok-acme-0001', apiBaseUrl: emu.url });
    const connections = new StaticConnections([
      defaultConnectionFromConfig(config),
      acme,
      // no access token: nothing to read, no loop
      testConnection('webhooks-only', 'wsnone', { accessToken: null, apiBaseUrl: emu.url }),
    ]);

    const registry = new Registry();
    runner = await createReconcilerRunner(config, { registry, connections });
    await runner.start();
    expect(runner.connectionIds()).toEqual(['acme', 'default']);

    const kafka = createKafka(config.kafka);
    const codec = new AvroCodec(config.kafka);
    await codec.registerAll();
    // the healed bodies are sealed for the contacts they name (docs/ERASURE.md): opened as the transformer does
    opener = await BodyOpener.start(config);
    tap = new TopicTap(kafka, codec, `${prefix}tap`, opener);
    const raw = topicName('notifications', prefix);
    const reportsTopic = topicName('reconcileReports', prefix);
    const outagesTopic = topicName('outages', prefix);
    await tap.start([raw, reportsTopic, outagesTopic]);

    await waitFor(() => runner!.reconcilerOf('acme').last !== null && runner!.reconciler.last !== null, {
      timeoutMs: 60_000,
      what: 'both scheduled windows reconciled',
    });
    const healed = () => tap!.of(raw).map((r) => ({ key: r.key as string, n: notificationFromAvro(r.value) }));
    const conversationOf = (n: { body: string }) =>
      (JSON.parse(n.body) as { data: { item: { id: string } } }).data.item.id;
    await waitFor(
      () =>
        healed().some((h) => h.n.topic === 'conversation.user.created' && conversationOf(h.n) === '7201') &&
        healed().some((h) => h.n.topic === 'conversation.user.created' && conversationOf(h.n) === '7101'),
      { timeoutMs: 20_000, what: "both workspaces' conversations healed" },
    );
    for (const { key, n } of healed()) {
      expect(n.source).toBe('reconcile');
      // the writer found the contacts its body names and sealed it for them, as its connection (docs/ERASURE.md)
      expect(sharedSubjects(n.body_sealed!).map((x) => x.connectionId)).toEqual([n.connection_id ?? 'default']);
      expect(contactIdsIn(JSON.parse(n.body)).sort()).toEqual(
        sharedSubjects(n.body_sealed!)
          .map((x) => x.contactId)
          .sort(),
      );
      if (n.app_id === 'wsacme') {
        // acme's: its connection and `acme/<key>`, as the ingest writes its webhooks
        expect(n.connection_id).toBe('acme');
        expect(key.startsWith('acme/')).toBe(true);
      } else {
        expect(n.app_id).toBe('emu1a2b3');
        expect(n.connection_id).toBeUndefined();
        expect(key.includes('/')).toBe(false);
      }
    }
    expect(healed().filter((h) => h.n.app_id === 'wsglobex')).toEqual([]);
    // each workspace was read with its own token (the emulator knows the workspace by the token)
    const read = new Set(emu.requests.map((r) => r.appId));
    expect(read.has('wsacme')).toBe(true);
    expect(read.has('emu1a2b3')).toBe(true);
    expect(read.has('wsglobex')).toBe(false);
    expect(emu.requests.some((r) => r.appId === null)).toBe(false);

    const metrics = await registry.metrics();
    expect(metrics).toMatch(
      /iks_reconcile_healed_total\{metric="Conversation Created",trigger="schedule",connection="acme"\} 1/,
    );
    expect(metrics).toMatch(
      /iks_reconcile_healed_total\{metric="Conversation Created",trigger="schedule",connection="default"\} 1/,
    );
    expect(metrics).toMatch(/iks_reconcile_last_window_seconds\{edge="until",connection="acme"\} \d+/);

    const reports = () =>
      tap!.of(reportsTopic).map((r) => ({ key: r.key as string, r: reconcileReportFromAvro(r.value) }));
    await waitFor(() => reports().length >= 2, { timeoutMs: 15_000, what: 'two reports' });
    const acmeReport = reports().find((x) => x.r.connection_id === 'acme')!;
    expect(acmeReport.key).toMatch(/^acme\/schedule:\d+$/);
    expect(acmeReport.r.rows.find((row) => row.name === 'Conversation Created')).toMatchObject({ healed: 1 });
    expect(reports().find((x) => x.r.connection_id === undefined)!.key).toMatch(/^schedule:\d+$/);

    // an outage ingest reported: every loop reconciles it, then its marker is tombstoned once
    const producer = createProducer(kafka);
    await producer.connect();
    const since = Date.now() - 600_000;
    await producer.send({
      topic: outagesTopic,
      acks: -1,
      messages: [
        {
          key: 'ingest@test:1',
          value: await codec.encode(
            outagesTopic,
            outageToAvro({ since, until: since + 60_000, failed_writes: 2, reporter: 'ingest@test' }),
          ),
        },
      ],
    });
    await producer.disconnect();
    await waitFor(
      () => runner!.reconciler.last?.trigger === 'outage' && runner!.reconcilerOf('acme').last?.trigger === 'outage',
      { timeoutMs: 30_000, what: 'the outage reconciled by both loops' },
    );
    await waitFor(() => tap!.of(outagesTopic).length >= 2, { timeoutMs: 15_000, what: 'the tombstone' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(tap.of(outagesTopic).map((r) => [r.key, r.value === null])).toEqual([
      ['ingest@test:1', false],
      ['ingest@test:1', true],
    ]);
    expect(
      reports()
        .filter((x) => x.r.trigger === 'outage')
        .map((x) => x.key.split(':')[0]),
    ).toEqual(expect.arrayContaining(['outage', 'acme/outage']));

    // a connection added later is reconciled; a removed one stops
    connections.put(testConnection('globex', 'wsglobex', { accessToken: 'tok-glob-0001', apiBaseUrl: emu.url }));
    expect(runner.connectionIds()).toEqual(['acme', 'default', 'globex']);
    await waitFor(() => runner!.reconcilerOf('globex').last !== null, { timeoutMs: 30_000, what: 'globex reconciled' });
    await waitFor(() => healed().some((h) => h.n.app_id === 'wsglobex' && conversationOf(h.n) === '7301'), {
      timeoutMs: 15_000,
      what: "globex's conversation healed",
    });
    for (const { key, n } of healed().filter((h) => h.n.app_id === 'wsglobex')) {
      expect(n.connection_id).toBe('globex');
      expect(key.startsWith('globex/')).toBe(true);
    }
    connections.put({ ...acme, status: 'removed', revision: 2 });
    expect(runner.connectionIds()).toEqual(['default', 'globex']);
    expect(() => runner!.reconcilerOf('acme')).toThrow(/no reconciler loop for connection "acme"/);
    expect(await registry.metrics()).not.toMatch(/iks_reconcile_last_window_seconds\{edge="until",connection="acme"\}/);
    const ready = runner.readiness() as { intercom: { up: boolean; detail: { connections: Record<string, string> } } };
    expect(ready.intercom.up).toBe(true);
    expect(Object.keys(ready.intercom.detail.connections)).toEqual(['default', 'globex']);
  });
});
