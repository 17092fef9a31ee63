import type { INestApplicationContext } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import type { Config } from '@iks/config';
import { AvroCodec, KAFKA, KafkaModule, notificationToAvro, topicName, type TopicKey } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { createIngestApp } from '../../apps/ingest/src/ingest.app';
import { createSinkRunner, type SinkRunner, type SinkRunOptions } from '@iks/sink';
import { createTransformerRunner, type TransformerRunner } from '@iks/transformer';
import {
  DEFAULT_ACCESS_TOKEN,
  signBody,
  startIntercomEmulator,
  type Dataset,
  type IntercomEmulator,
  type IntercomNotification,
  type WebhookSenderOptions,
} from '../../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator, type StoredEvent } from '../../tools/klaviyo-emulator/src';
import { testConfig } from '../support/test-config';
import { waitFor } from '../support/wait-for';

export const CLIENT_SECRET = 'e2e-intercom-client-secret';
export const KLAVIYO_KEY = 'pk_e2e_0123456789abcdef';

export interface PipelineOptions {
  readonly dataset: Dataset;
  /** Extra env for all three apps (e.g. KAFKA_BROKERS of a private broker). */
  readonly env?: Record<string, string>;
  /** The Intercom emulator delivers webhooks to ingest (`intercom.webhooks`) with this policy (small delays for tests). */
  readonly webhooks?: Omit<WebhookSenderOptions, 'url' | 'secret'>;
}

/**
 * The whole pipeline in this process: Klaviyo emulator, Intercom emulator, ingest on a free
 * port, transformer (Intercom source = the emulator) and sink, all on ONE topic prefix.
 */
export class Pipeline {
  klaviyo!: KlaviyoEmulator;
  intercom!: IntercomEmulator;
  ingest!: NestFastifyApplication;
  transformer!: TransformerRunner;
  sink!: SinkRunner;
  /** The sink's metrics (what its /metrics would serve). */
  readonly sinkRegistry = new Registry();
  /** http://127.0.0.1:<port>/webhooks/intercom */
  webhookUrl = '';
  readonly configs = {} as { ingest: Config; transformer: Config; sink: Config };
  private readonly extraSinks: SinkRunner[] = [];
  private env: Record<string, string> = {};
  private ingestPort = 0;
  /** The harness's own Kafka client and codec, from KafkaModule as the apps get theirs. */
  private kafkaContext?: INestApplicationContext;
  private schemasRegistered?: Promise<unknown>;

  static async start(options: PipelineOptions): Promise<Pipeline> {
    const p = new Pipeline();
    await p.boot(options);
    return p;
  }

  private async boot(options: PipelineOptions): Promise<void> {
    this.klaviyo = await startKlaviyoEmulator({ port: 0 });
    const prefix = testConfig('cli').kafka.topicPrefix; // a fresh prefix; the same for all three apps
    this.env = {
      TOPIC_PREFIX: prefix,
      TRANSFORMER_GROUP_ID: `${prefix}transformer`,
      SINK_GROUP_ID: `${prefix}sink`,
      INTERCOM_CLIENT_SECRET: CLIENT_SECRET,
      INTERCOM_ACCESS_TOKEN: DEFAULT_ACCESS_TOKEN,
      INTERCOM_BASE_URL: '', // set once the emulator listens (below)
      KLAVIYO_API_KEY: KLAVIYO_KEY,
      KLAVIYO_BASE_URL: this.klaviyo.url,
      SINK_BATCH_MAX_WAIT_MS: '50',
      SINK_RETRY_MAX_MS: '120000',
      CONTACT_RETRY_INITIAL_MS: '200',
      CONTACT_WAIT_MAX_MS: '30000',
      TRANSFORMER_HTTP_PORT: '0',
      SINK_HTTP_PORT: '0',
      INGEST_ACK_TIMEOUT_MS: '2000',
      ...options.env,
    };
    this.configs.ingest = testConfig('ingest', this.env);
    this.kafkaContext = await createContext(this.configs.ingest, 'e2e', KafkaModule);
    this.ingest = await createIngestApp(this.configs.ingest, false);
    await this.ingest.listen(0, '127.0.0.1');
    const addr = this.ingest.getHttpServer().address() as { port: number };
    this.ingestPort = addr.port;
    this.webhookUrl = `http://127.0.0.1:${addr.port}/webhooks/intercom`;

    this.intercom = await startIntercomEmulator({
      port: 0,
      dataset: options.dataset,
      webhooks: options.webhooks ? { ...options.webhooks, url: this.webhookUrl, secret: CLIENT_SECRET } : undefined,
    });
    this.env.INTERCOM_BASE_URL = this.intercom.url;
    this.configs.transformer = testConfig('transformer', this.env);
    this.configs.sink = testConfig('sink', this.env);

    this.transformer = await createTransformerRunner(this.configs.transformer);
    await this.transformer.start();
    this.sink = await createSinkRunner(this.configs.sink, { registry: this.sinkRegistry });
    await this.sink.start();
  }

  private get kafka(): Kafka {
    return this.kafkaContext!.get<Kafka>(KAFKA);
  }

  get prefix(): string {
    return this.configs.ingest.kafka.topicPrefix;
  }

  /** Stops ingest (its port refuses connections, as a crashed or redeploying ingest does). */
  async stopIngest(): Promise<void> {
    await this.ingest.close();
  }

  /** Starts ingest again on the same port. */
  async restartIngest(): Promise<void> {
    this.ingest = await createIngestApp(this.configs.ingest, false);
    await this.ingest.listen(this.ingestPort, '127.0.0.1');
  }

  /** A config of `app` on this pipeline's topics (e.g. for a replay sink in another group). */
  config(app: 'sink' | 'transformer' | 'reconciler' | 'cli', env: Record<string, string> = {}): Config {
    return testConfig(app, { ...this.env, ...env });
  }

  /** Starts another SinkRunner (stopped with the pipeline). */
  async startSink(env: Record<string, string>, opts: SinkRunOptions): Promise<SinkRunner> {
    const s = await createSinkRunner(this.config('sink', env), { run: opts });
    this.extraSinks.push(s);
    await s.start();
    return s;
  }

  /** One signed POST, like Intercom (no automatic redelivery): the HTTP status, or 0 when no answer. */
  async post(notification: IntercomNotification | object, secret = CLIENT_SECRET, timeoutMs = 5000): Promise<number> {
    const raw = JSON.stringify(notification);
    try {
      const res = await fetch(this.webhookUrl, {
        method: 'POST',
        body: raw,
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          'content-type': 'application/json',
          'x-hub-signature': signBody(raw, secret),
          'user-agent': 'intercom-emulator-webhooks',
        },
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status;
    } catch {
      return 0;
    }
  }

  /** Posts in order and expects 200 for each. */
  async deliver(notifications: readonly (IntercomNotification | object)[]): Promise<void> {
    for (const n of notifications) {
      const status = await this.post(n);
      if (status !== 200) throw new Error(`webhook ${(n as { id?: string }).id} answered ${status}`);
    }
  }

  /** Writes raw notifications (already RawNotification-shaped) straight to the raw topic with the project's codec. */
  async writeRaw(
    records: ReadonlyArray<{ notification: Parameters<typeof notificationToAvro>[0]; key: string }>,
  ): Promise<void> {
    await this.produce(
      'notifications',
      records.map((r) => ({ key: r.key, value: notificationToAvro(r.notification) })),
    );
  }

  /** Writes records in their topic's Avro shape (e.g. eventToAvro's) to one of the pipeline's topics with the project's codec. */
  async produce(key: TopicKey, records: ReadonlyArray<{ key: string; value: object }>): Promise<void> {
    const codec = this.kafkaContext!.get(AvroCodec);
    this.schemasRegistered ??= codec.registerAll().catch((e: unknown) => {
      this.schemasRegistered = undefined; // the next call tries again
      throw e;
    });
    await this.schemasRegistered;
    const topic = topicName(key, this.prefix);
    const producer = this.kafka.producer();
    await producer.connect();
    try {
      const messages = await Promise.all(
        records.map(async (r) => ({ key: r.key, value: await codec.encode(topic, r.value) })),
      );
      await producer.send({ topic, acks: -1, messages });
    } finally {
      await producer.disconnect();
    }
  }

  events(metric?: string): StoredEvent[] {
    return this.klaviyo.store.events.filter((e) => metric === undefined || e.metric === metric);
  }

  eventsWithUniqueId(uniqueId: string): StoredEvent[] {
    return this.klaviyo.store.events.filter((e) => e.unique_id === uniqueId);
  }

  /** Waits until every unique_id has an event in the Klaviyo emulator. */
  async waitForUniqueIds(ids: readonly string[], timeoutMs = 60_000): Promise<void> {
    await waitFor(() => ids.every((id) => this.klaviyo.store.events.some((e) => e.unique_id === id)), {
      timeoutMs,
      intervalMs: 100,
      what: 'unique_ids in Klaviyo',
    }).catch((e: Error) => {
      const missing = ids.filter((id) => !this.klaviyo.store.events.some((ev) => ev.unique_id === id));
      throw new Error(`${e.message}; missing ${missing.length}: ${missing.slice(0, 10).join(', ')}`);
    });
  }

  /**
   * Committed-offset lag of each (group, topic) pair, summed; 0 when the group has read and
   * committed everything there is (a topic that does not exist yet counts as 0).
   */
  async lag(pairs: ReadonlyArray<{ groupId: string; topic: string }>): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      let lag = 0n;
      for (const { groupId, topic } of pairs) {
        if (!existing.has(topic)) continue;
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const e of ends) {
          const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
          const from = BigInt(c) < 0n ? BigInt(e.low) : BigInt(c);
          if (BigInt(e.high) > from) lag += BigInt(e.high) - from;
        }
      }
      return Number(lag);
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Waits until the transformer has committed everything on the raw and retry topics and then
   * the sink everything on the three klaviyo topics: all that was accepted has reached Klaviyo
   * (the transformer commits after its output is acked, the sink after delivery).
   */
  async quiesce(timeoutMs = 60_000, sinkGroup = this.configs.sink.sink.groupId): Promise<void> {
    const p = this.prefix;
    const tg = this.configs.transformer.transformer.groupId;
    const pairs = [
      { groupId: tg, topic: topicName('notifications', p) },
      { groupId: `${tg}.retry`, topic: topicName('notificationsRetry', p) },
      { groupId: sinkGroup, topic: topicName('events', p) },
      { groupId: sinkGroup, topic: topicName('profiles', p) },
      { groupId: sinkGroup, topic: topicName('deletions', p) },
    ];
    await waitFor(async () => (await this.lag(pairs)) === 0, {
      timeoutMs,
      intervalMs: 200,
      what: 'transformer and sink to commit everything',
    });
  }

  /** Lag of the transformer (raw topic) and of the sink (events topic), for tracing. */
  async lagReport(): Promise<string> {
    const p = this.prefix;
    const raw = await this.lag([
      { groupId: this.configs.transformer.transformer.groupId, topic: topicName('notifications', p) },
    ]);
    const events = await this.lag([{ groupId: this.configs.sink.sink.groupId, topic: topicName('events', p) }]);
    return `lag: transformer ${raw}, sink ${events}`;
  }

  async stop(): Promise<void> {
    const quiet = (p: Promise<unknown> | undefined) => (p ?? Promise.resolve()).catch(() => undefined);
    for (const s of this.extraSinks.splice(0)) await quiet(s.stop());
    await quiet(this.sink?.stop());
    await quiet(this.transformer?.stop());
    await quiet(this.ingest?.close());
    await quiet(this.intercom?.close());
    await quiet(this.klaviyo?.close());
    await quiet(this.kafkaContext?.close());
  }
}
