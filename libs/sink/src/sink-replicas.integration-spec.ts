/**
 * Several sink processes (the built app, `node dist/apps/sink/src/main.js`; `npm test` builds
 * first) in one consumer group, on one Klaviyo account (the emulator, limits on): together they
 * stay within Klaviyo's windows, through the rebalances of replicas joining and one dying.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Config } from '@iks/config';
import type { KlaviyoEventRecord } from '@iks/domain';
import { AvroCodec, createKafka, ensureTopics, eventToAvro, topicName } from '@iks/kafka';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../../../tools/klaviyo-emulator/src';
import { testConfig } from '../../../test/support/test-config';
import { waitFor } from '../../../test/support/wait-for';

const MAIN = join(__dirname, '../../../dist/apps/sink/src/main.js');
const API_KEY = 'pk_test_replicas_0123456789';

function event(i: number, tag: string): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: `person${i % 60}@example.com` },
    properties: { 'Conversation ID': String(i) },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${tag}${i}:created`,
    backfill: false,
    intercom_contact_id: `c${i % 60}`,
    source_notification_id: `notif_${tag}${i}`,
    source_topic: 'conversation.user.created',
  };
}

async function produce(config: Config, codec: AvroCodec, records: KlaviyoEventRecord[]): Promise<void> {
  const kafka = createKafka(config.kafka);
  const topic = topicName('events', config.kafka.topicPrefix);
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: await Promise.all(
        records.map(async (r) => ({ key: r.intercom_contact_id, value: await codec.encode(topic, eventToAvro(r)) })),
      ),
    });
  } finally {
    await producer.disconnect();
  }
}

interface Replica {
  readonly proc: ChildProcess;
  readonly lines: string[];
}

describe('sink replicas on one Klaviyo account (child processes, real broker, emulator limits on)', () => {
  let emulator: KlaviyoEmulator;
  const replicas: Replica[] = [];
  let config: Config;
  let codec: AvroCodec;

  const startReplica = (): Replica => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      KAFKA_BROKERS: config.kafka.brokers.join(','),
      SCHEMA_REGISTRY_URL: config.kafka.schemaRegistryUrl,
      TOPIC_PREFIX: config.kafka.topicPrefix,
      SINK_GROUP_ID: config.sink.groupId,
      KLAVIYO_API_KEY: API_KEY,
      KLAVIYO_BASE_URL: emulator.url,
      SINK_HTTP_PORT: '0',
      SINK_HTTP_HOST: '127.0.0.1',
      SINK_BATCH_MAX_EVENTS: '20',
      SINK_BATCH_MAX_WAIT_MS: '50',
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'json',
    };
    const proc = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const r: Replica = { proc, lines: [] };
    for (const s of [proc.stdout!, proc.stderr!]) createInterface({ input: s }).on('line', (l) => r.lines.push(l));
    replicas.push(r);
    return r;
  };
  const shareLines = (r: Replica, n: number) => r.lines.filter((l) => l.includes(`budget share of ${n} replica(s)`));
  const stored = () => new Set(emulator.store.events.map((e) => e.unique_id)).size;

  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  });
  beforeEach(async () => {
    emulator = await startKlaviyoEmulator({ port: 0 });
    config = testConfig('sink', { KLAVIYO_API_KEY: API_KEY, KLAVIYO_BASE_URL: emulator.url });
    const admin = createKafka(config.kafka).admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka).finally(() => admin.disconnect());
    codec = new AvroCodec(config.kafka);
    await codec.registerAll();
  });
  afterEach(async () => {
    await Promise.all(
      replicas.splice(0).map(
        (r) =>
          new Promise<void>((res) => {
            if (r.proc.exitCode !== null || r.proc.signalCode !== null) return res();
            r.proc.once('exit', () => res());
            r.proc.kill('SIGTERM');
            setTimeout(() => r.proc.kill('SIGKILL'), 10_000).unref();
          }),
      ),
    );
    await emulator.close();
  });

  it("three replicas joining one after another, then one SIGKILLed: no 429, Klaviyo's windows kept, nothing lost", async () => {
    const first = startReplica();
    await waitFor(() => shareLines(first, 1).length > 0, { what: 'the first replica in its group', timeoutMs: 60_000 });
    await produce(
      config,
      codec,
      Array.from({ length: 600 }, (_, i) => event(i, 'a')),
    );
    await waitFor(() => stored() >= 100, { what: 'the first replica delivering', timeoutMs: 30_000 });
    // two more join while the first is spending the account's budget
    const others = [startReplica(), startReplica()];
    await waitFor(() => [first, ...others].every((r) => shareLines(r, 3).length > 0), {
      what: 'three replicas sharing the budget',
      timeoutMs: 90_000,
    });
    await produce(
      config,
      codec,
      Array.from({ length: 900 }, (_, i) => event(i, 'b')),
    );
    await waitFor(() => stored() >= 1000, { what: '1000 events delivered', timeoutMs: 90_000 });
    // one dies without leaving the group: the others take its partitions after the session timeout
    others[0].proc.kill('SIGKILL');
    await produce(
      config,
      codec,
      Array.from({ length: 300 }, (_, i) => event(i, 'c')),
    );
    await waitFor(() => stored() === 1800, { what: 'all 1800 events delivered', timeoutMs: 120_000 });

    expect(emulator.store.throttled).toBe(0);
    const bulk = emulator.store.windowPeaks().seen.bulk_create_events;
    expect(bulk.perSecond).toBeLessThanOrEqual(10);
    expect(bulk.perMinute).toBeLessThanOrEqual(150);
    expect([first, others[1]].some((r) => shareLines(r, 2).length > 0)).toBe(true);
  });
});
