import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '@iks/config';
import type { IntercomObject } from '@iks/intercom';
import { AvroCodec, createKafka, createProducer, ensureTopics, eventToAvro, topicName } from '@iks/kafka';
import { deriveNotifications, type BackfillKind } from '@iks/backfill';
import type { RawNotification } from '@iks/domain';
import { startIntercomEmulator, type IntercomEmulator } from '../../../../tools/intercom-emulator/src';
import { testConfig } from '../../../../test/support/test-config';
import { waitFor } from '../../../../test/support/wait-for';
import { runReconcileCommand } from './reconcile.command';

const DATASET = { seed: 13, contacts: 20, conversations: 15, tickets: 10 };
const SINCE = '2025-12-01';
const UNTIL = '2026-12-01';

function capture() {
  const out: string[] = [];
  return { out, io: { stdout: (l: string) => void out.push(l), stderr: (l: string) => void out.push(l) } };
}

/** The `total` row of the table: expected, present, missing, healed. */
function totals(lines: string[]): number[] {
  const t = lines
    .join('\n')
    .split('\n')
    .find((l) => l.startsWith('total'))!;
  return t.trim().split(/\s+/).slice(1).map(Number);
}

describe('reconcile: Intercom emulator vs klaviyo.events.v1 (real broker and registry)', () => {
  let emu: IntercomEmulator;
  let config: Config;
  let codec: AvroCodec;
  let expectedIds: string[];

  beforeAll(async () => {
    emu = await startIntercomEmulator({ dataset: DATASET, rateLimit: { perWindow: 10_000, windowSeconds: 1 } });
    config = testConfig('cli', { INTERCOM_ACCESS_TOKEN: emu.accessToken, INTERCOM_BASE_URL: emu.url });
    const admin = createKafka(config.kafka).admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka);
    await admin.disconnect();
    codec = new AvroCodec(config.kafka);
    await codec.registerAll();
    const window = { since: Date.parse(SINCE) / 1000, until: Date.parse(UNTIL) / 1000 };
    const derive = (kind: BackfillKind, o: unknown) =>
      deriveNotifications(kind, o as IntercomObject, { appId: 'a', source: 'reconcile', window }).notifications;
    expectedIds = [
      ...emu.dataset.conversations.flatMap((c) => derive('conversations', c)),
      ...emu.dataset.tickets.flatMap((t) => derive('tickets', t)),
    ].map((n) => n.expected!.uniqueId);
  });
  afterAll(() => emu.close());

  /** What the transformer would have produced for these unique_ids (only the id matters to the index). */
  async function produceEvents(ids: readonly string[]) {
    const producer = createProducer(createKafka(config.kafka));
    await producer.connect();
    const topic = topicName('events', config.kafka.topicPrefix);
    const messages = await Promise.all(
      ids.map(async (id) => ({
        key: 'c1',
        value: await codec.encode(
          topic,
          eventToAvro({
            kind: 'event',
            metric: 'm',
            profile: { email: 'a@example.com' },
            properties: {},
            time: '2026-01-01T00:00:00Z',
            unique_id: id,
            backfill: false,
            intercom_contact_id: 'c1',
            source_notification_id: 'n',
            source_topic: 't',
          }),
        ),
      })),
    );
    await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();
  }

  async function rawTopic(atLeast: number): Promise<RawNotification[]> {
    const kafka = createKafka(config.kafka);
    const consumer = kafka.consumer({ groupId: `${config.kafka.topicPrefix}check-${Date.now()}` });
    const seen: RawNotification[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topicName('notifications', config.kafka.topicPrefix), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void seen.push(await codec.decodeAs('notifications', message.value!)),
    });
    await waitFor(() => seen.length >= atLeast, { what: `${atLeast} raw records`, timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000));
    await consumer.disconnect();
    return seen;
  }

  it('reports what is missing, heals it once, and a complete window reports 0 missing', async () => {
    const indexDir = mkdtempSync(join(tmpdir(), 'iks-reconcile-'));
    const args = [
      '--since',
      SINCE,
      '--until',
      UNTIL,
      '--only',
      'conversations,tickets',
      '--app-id',
      emu.dataset.appId,
      '--index-dir',
      indexDir,
    ];
    const deps = { progress: { write: () => undefined } };
    expect(expectedIds.length).toBeGreaterThan(20);
    const removed = [expectedIds[1], expectedIds[5], expectedIds[expectedIds.length - 1]];
    await produceEvents(expectedIds.filter((id) => !removed.includes(id)));

    const check = capture();
    expect(await runReconcileCommand(args, config, check.io, deps)).toBe(0);
    process.stdout.write(`${check.out.join('\n')}\n`);
    expect(totals(check.out)).toEqual([expectedIds.length, expectedIds.length - 3, 3, 0]);

    const heal = capture();
    expect(await runReconcileCommand([...args, '--heal'], config, heal.io, deps)).toBe(0);
    process.stdout.write(`${heal.out.join('\n')}\n`);
    expect(totals(heal.out)).toEqual([expectedIds.length, expectedIds.length - 3, 3, 3]);
    const raw = await rawTopic(3);
    expect(raw).toHaveLength(3);
    expect(raw.every((r) => r.source === 'reconcile')).toBe(true);

    // twice with --heal: nothing written the second time (healed earlier, not yet produced)
    const again = capture();
    expect(await runReconcileCommand([...args, '--heal'], config, again.io, deps)).toBe(0);
    expect(totals(again.out)).toEqual([expectedIds.length, expectedIds.length - 3, 0, 0]);
    expect(await rawTopic(3)).toHaveLength(3);

    // the pipeline maps and produces the healed notifications: the window is complete
    await produceEvents(removed);
    const done = capture();
    const progress: string[] = [];
    expect(
      await runReconcileCommand(args, config, done.io, { progress: { write: (l: string) => void progress.push(l) } }),
    ).toBe(0);
    process.stdout.write(`${done.out.join('\n')}\n`);
    expect(totals(done.out)).toEqual([expectedIds.length, expectedIds.length, 0, 0]);
    // the index read only what was appended since its last run: the 3 events, not the whole topic
    expect(progress.join('')).toContain(
      `: 3 new produced record(s) read, ${expectedIds.length} event ids (was ${expectedIds.length - 3})`,
    );
  });
});
