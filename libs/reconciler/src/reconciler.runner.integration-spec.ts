import { Registry } from 'prom-client';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AvroCodec,
  createKafka,
  notificationFromAvro,
  outageFromAvro,
  reconcileReportFromAvro,
  topicName,
} from '@iks/kafka';
import { createNotificationWriter, KafkaUnavailableError, type NotificationWriter } from '@iks/ingest';
import {
  conversationLifecycle,
  generateDataset,
  startIntercomEmulator,
  type IntercomEmulator,
} from '../../../tools/intercom-emulator/src';
import { rawFromEnvelope, TopicTap } from '../../../test/support/raw-topic';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';
import type { ReconcilerRunner } from './reconciler.runner';
import { createReconcilerRunner } from './reconciler-stage.module';

const HOUR = 3600;

describe('ReconcilerRunner: an outage ingest reports is reconciled and tombstoned (real broker and registry)', () => {
  let emu: IntercomEmulator;
  let runner: ReconcilerRunner | undefined;
  let writer: NotificationWriter | undefined;
  let tap: TopicTap | undefined;

  afterAll(async () => {
    await tap?.stop().catch(() => undefined);
    await runner?.stop();
    await writer?.stop();
    await emu?.close();
  });

  it('ingest writes the 503 window when Kafka is back; the reconciler heals what Intercom holds in it, once', async () => {
    const data = generateDataset({ seed: 21, contacts: 3, conversations: 0, tickets: 0 });
    // a conversation lived three hours ago: outside the scheduled window (2 h), inside the outage's margin (4 h)
    const life = conversationLifecycle({
      contact: data.contacts.find((c) => c.email)!,
      admin: data.admins[0],
      startAt: Math.floor(Date.now() / 1000) - 3 * HOUR,
      appId: data.appId,
      id: '6101',
      rating: 3,
    });
    emu = await startIntercomEmulator({ dataset: { ...data, conversations: [life.at(-1)!.data.item], tickets: [] } });
    const ingestConfig = testConfig('ingest', { INTERCOM_CLIENT_SECRET: 'x' });
    const env = {
      TOPIC_PREFIX: ingestConfig.kafka.topicPrefix,
      INTERCOM_ACCESS_TOKEN: emu.accessToken,
      INTERCOM_BASE_URL: emu.url,
      RECONCILE_OUTAGE_MARGIN_MS: String(4 * HOUR * 1000),
      RECONCILE_SETTLE_MS: '0',
      RECONCILE_INDEX_DIR: mkdtempSync(join(tmpdir(), 'iks-outage-')),
    };
    const prefix = ingestConfig.kafka.topicPrefix;

    // ingest: one webhook Kafka could not take in time (503), then one it acknowledged
    writer = await createNotificationWriter(ingestConfig);
    await writer.start();
    expect(writer.outages).not.toBeNull();
    const [created, replied] = life;
    await expect(writer.write(rawFromEnvelope(created), 'conversation:6101', 0)).rejects.toBeInstanceOf(
      KafkaUnavailableError,
    );
    await writer.write(rawFromEnvelope(replied), 'conversation:6101');
    await writer.outages!.settled();
    expect(writer.outages!.pending).toHaveLength(0);

    const codec = new AvroCodec(ingestConfig.kafka);
    tap = new TopicTap(createKafka(ingestConfig.kafka), codec, `${prefix}tap`);
    await tap.start([
      topicName('outages', prefix),
      topicName('notifications', prefix),
      topicName('reconcileReports', prefix),
    ]);

    runner = await createReconcilerRunner(testConfig('reconciler', env), { registry: new Registry() });
    await runner.start();
    await waitFor(() => runner!.reconciler.last?.trigger === 'outage', {
      timeoutMs: 30_000,
      what: 'the outage window reconciled',
    });

    // the marker, then its tombstone
    await waitFor(() => tap!.of(topicName('outages', prefix)).length >= 2, {
      timeoutMs: 15_000,
      what: 'the marker and its tombstone',
    });
    const outages = tap.of(topicName('outages', prefix));
    expect(outages[0].key).toMatch(/^ingest@.+:\d+$/);
    expect(outageFromAvro(outages[0].value)).toMatchObject({ failed_writes: 1 });
    expect(outages[1]).toMatchObject({ key: outages[0].key, value: null });

    // healed: Created (its webhook got 503) and Rated; Replied too (the index had not read it yet: the
    // transformer is not running here); Read never
    const healed = () =>
      tap!
        .of(topicName('notifications', prefix))
        .map((r) => notificationFromAvro(r.value))
        .filter((n) => n.source === 'reconcile');
    await waitFor(() => healed().length >= 3, { timeoutMs: 15_000, what: 'healed notifications' });
    expect(
      healed()
        .map((n) => n.topic)
        .sort(),
    ).toEqual(['conversation.rating.added', 'conversation.user.created', 'conversation.user.replied']);
    const metrics = await runner.registry.metrics();
    expect(metrics).toMatch(
      /iks_reconcile_healed_total\{metric="Conversation Created",trigger="outage",connection="default"\} 1/,
    );
    expect(metrics).toMatch(/iks_reconcile_outages_pending\{connection="default"\} 0/);
    // the outage window's report on pipeline.reconcile.v1 (Avro), for the console's Gaps page
    const reports = () => tap!.of(topicName('reconcileReports', prefix)).map((r) => reconcileReportFromAvro(r.value));
    await waitFor(() => reports().some((r) => r.trigger === 'outage'), {
      timeoutMs: 15_000,
      what: 'the outage report',
    });
    const report = reports().find((r) => r.trigger === 'outage')!;
    expect(report).toMatchObject({
      outcome: 'ok',
      outage_key: outages[0].key,
      reporter: expect.stringMatching(/^reconciler@/),
    });
    expect(report.rows.find((r) => r.name === 'Conversation Created')).toMatchObject({
      expected: 1,
      missing: 1,
      healed: 1,
    });
  });
});
