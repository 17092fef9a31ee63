import { Logger } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord } from '@iks/domain';
import {
  AvroCodec, Counters, createKafka, createProducer, DeadLetterPublisher, decodeOrPoison, followTopic, GROUP_TIMING, nextOffset, prepareStage, RecordDecodeError, serdes, topicName,
} from '@iks/kafka';
import { createKlaviyoDelivery, KlaviyoHttpClient, RateBudget, type DeliveryResult, type KlaviyoDelivery, type Priority } from '@iks/klaviyo';

export interface SinkRunOptions {
  /** Consumer group (default SINK_GROUP_ID); a replay uses its own. */
  readonly groupId?: string;
  /** Which of the normalized topics to deliver (default all three). */
  readonly topics?: ReadonlyArray<'events' | 'profiles' | 'deletions'>;
  /** live: backfill-flagged records still go as backfill; replay: everything yields to live traffic. */
  readonly mode?: 'live' | 'replay';
  /** Start from these offsets instead of the committed ones (replay). */
  readonly seek?: ReadonlyArray<{ topic: string; partition: number; offset: string }>;
  /** Exclusive end offset per `topic:partition` (a replay's plan): records from there on are not delivered. */
  readonly until?: ReadonlyMap<string, bigint>;
  /** Test seam: runs after delivery and dead-lettering, before the offset commit (a throw = a crash there). */
  readonly beforeCommit?: (topic: string, partition: number) => Promise<void>;
}

/** Klaviyo's answer for one record that was refused for good, as a dead-letter reason. */
export class KlaviyoRejectedError extends Error {
  readonly retriable: boolean;
  readonly code: string;
  constructor(result: Extract<DeliveryResult, { status: 'rejected' }>) {
    const e = result.error;
    super(`Klaviyo ${e.status ?? 'local check'} ${e.code}: ${e.detail}${e.pointer ? ` (at ${e.pointer})` : ''}`);
    this.name = 'KlaviyoRejectedError';
    this.code = e.code;
    this.retriable = e.retriable;
  }
}

/**
 * Kafka Connect's sink contract: deliver, then commit. Each batch of a partition is decoded,
 * delivered to Klaviyo (bulk for events, under one rate budget per account), refused records go
 * to `<topic>.dlq` with Klaviyo's error, and only then is the offset committed. A crash re-sends
 * at most the uncommitted records; their deterministic unique_id makes Klaviyo drop the repeat.
 */
export class SinkRunner {
  private readonly logger = new Logger(SinkRunner.name);
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly codec: AvroCodec;
  private readonly dlq: DeadLetterPublisher;
  readonly deliverer: KlaviyoDelivery;
  private consumer?: Consumer;
  private tombstones?: Consumer;
  /** Intercom contacts with a deletion request: their profiles and events are never sent again (replays included). */
  private readonly deletedContacts = new Set<string>();
  private readonly abort = new AbortController();
  private readonly topics: { events: string; profiles: string; deletions: string };
  readonly delivered = new Counters('iks_sink_records_delivered_total', 'Records delivered to Klaviyo, by topic.');
  readonly deadLettered = new Counters('iks_sink_records_dead_lettered_total', 'Records sent to the dead-letter topic, by topic and Klaviyo error code.');
  readonly skipped = new Counters('iks_sink_records_skipped_total', 'Records not delivered on purpose, by topic and reason.');
  readonly retries = new Counters('iks_sink_klaviyo_retries_total', 'Klaviyo requests retried, by operation.');
  private ready = false;

  constructor(private readonly config: Config, budget?: RateBudget) {
    this.kafka = createKafka(config.kafka);
    this.producer = createProducer(this.kafka);
    this.codec = new AvroCodec(config.kafka);
    this.dlq = new DeadLetterPublisher(this.producer, this.codec);
    const p = config.kafka.topicPrefix;
    this.topics = { events: topicName('events', p), profiles: topicName('profiles', p), deletions: topicName('deletions', p) };
    if (!config.klaviyo.apiKey) throw new Error('KLAVIYO_API_KEY is required by the sink');
    const client = new KlaviyoHttpClient({
      apiKey: config.klaviyo.apiKey.reveal(), baseUrl: config.klaviyo.baseUrl, revision: config.klaviyo.revision,
      timeoutMs: config.sink.requestTimeoutMs,
    });
    this.deliverer = createKlaviyoDelivery({
      client,
      // 200 ms of margin: a request granted just inside our window can land in Klaviyo's next one
      budget: budget ?? new RateBudget({ windowMarginMs: 200 }),
      retry: { maxElapsedMs: config.sink.retryMaxMs, maxDelayMs: config.sink.retryMaxDelayMs },
      batch: { maxCount: config.sink.batchMaxEvents, maxWaitMs: config.sink.batchMaxWaitMs },
      signal: this.abort.signal,
      onRetry: (operation) => this.retries.inc({ operation }),
    });
  }

  get isReady(): boolean {
    return this.ready;
  }

  async start(opts: SinkRunOptions = {}): Promise<void> {
    await prepareStage(this.kafka, this.config.kafka, this.codec, this.producer);
    const groupId = opts.groupId ?? this.config.sink.groupId;
    // MAPPING.md: a deleted person is not brought back by a later replay (or a late upsert).
    this.tombstones = await followTopic(this.kafka, this.topics.deletions, `${groupId}.tombstones`, async (m) => {
      const d = await decodeOrPoison(this.codec, m.value).catch(() => undefined); // a poison record is the main consumer's to dead-letter
      if (d) this.deletedContacts.add(serdes.deletionFromAvro(d).intercom_contact_id);
    });
    const consumer = this.kafka.consumer({
      groupId, allowAutoTopicCreation: false, ...GROUP_TIMING,
      // large fetches so that bulk requests fill up to Klaviyo's 1,000 events
      maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 16 * 1024 * 1024,
    });
    this.consumer = consumer;
    await consumer.connect();
    const which = opts.topics ?? ['events', 'profiles', 'deletions'];
    await consumer.subscribe({ topics: which.map((t) => this.topics[t]), fromBeginning: true });
    const mode = opts.mode ?? 'live';
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // every partition of the three topics at once, so their events can share bulk requests
      partitionsConsumedConcurrently: 3 * this.config.kafka.partitions,
      eachBatch: (p) => this.onBatch(p, mode, opts),
    });
    for (const s of opts.seek ?? []) consumer.seek(s);
    this.ready = true;
    this.logger.log(`delivering ${which.join(', ')} to ${this.config.klaviyo.baseUrl} (group ${groupId}, ${mode})`);
  }

  private async onBatch(
    { batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload,
    mode: 'live' | 'replay',
    { beforeCommit, until }: SinkRunOptions,
  ): Promise<void> {
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const end = until?.get(`${batch.topic}:${batch.partition}`);
    const messages = end === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) < end);
    if (messages.length === 0) {
      if (end !== undefined) await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: end.toString() }]);
      return;
    }
    // Deliveries may wait for Klaviyo's windows or retry for a long time: keep the membership alive.
    const beat = setInterval(() => void heartbeat().catch(() => undefined), 3000);
    try {
      const decoded: Array<{ m: KafkaMessage; record?: any; error?: Error; skipped?: boolean }> = [];
      for (const m of messages) {
        try {
          decoded.push({ m, record: await this.decode(batch.topic, m.value) });
        } catch (e) {
          if (!(e instanceof RecordDecodeError)) throw e;
          decoded.push({ m, error: e });
        }
      }
      for (const d of decoded) {
        const r = d.record as KlaviyoEventRecord | KlaviyoProfileRecord | KlaviyoDeletionRecord | undefined;
        if (!r) continue;
        if (r.kind === 'deletion') this.deletedContacts.add(r.intercom_contact_id);
        else if (r.intercom_contact_id && this.deletedContacts.has(r.intercom_contact_id)) {
          d.record = undefined;
          d.skipped = true;
        }
      }
      const skipped = decoded.filter((d) => d.skipped).length;
      if (skipped) this.skipped.inc({ topic: batch.topic, reason: 'contact_deleted' }, skipped);
      const ok = decoded.filter((d) => d.record);
      const results = await this.deliver(batch.topic, ok.map((d) => d.record), mode);
      if (!isRunning()) return; // shutting down: nothing committed, the batch is read again
      ok.forEach((d, i) => {
        const r = results[i];
        if (r.status === 'rejected') d.error = new KlaviyoRejectedError(r);
      });
      let delivered = 0;
      for (const d of decoded) {
        if (d.error) {
          await this.dlq.publish({ topic: batch.topic, partition: batch.partition, message: d.m, stage: 'sink', error: d.error });
          this.deadLettered.inc({ topic: batch.topic, code: (d.error as { code?: string }).code ?? d.error.name });
        } else if (!d.skipped) delivered++;
      }
      this.delivered.inc({ topic: batch.topic }, delivered);
      const last = messages[messages.length - 1].offset;
      await beforeCommit?.(batch.topic, batch.partition);
      resolveOffset(last);
      await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(last) }]);
    } finally {
      clearInterval(beat);
    }
  }

  private async decode(topic: string, value: Buffer | null): Promise<KlaviyoEventRecord | KlaviyoProfileRecord | KlaviyoDeletionRecord> {
    const avro = await decodeOrPoison(this.codec, value);
    try {
      if (topic === this.topics.events) return serdes.eventFromAvro(avro);
      if (topic === this.topics.profiles) return serdes.profileFromAvro(avro);
      return serdes.deletionFromAvro(avro);
    } catch (e) {
      throw new RecordDecodeError(`record does not fit ${topic}: ${(e as Error).message}`);
    }
  }

  private async deliver(topic: string, records: any[], mode: 'live' | 'replay'): Promise<DeliveryResult[]> {
    if (records.length === 0) return [];
    if (topic === this.topics.events) {
      // Events of every partition share bulk requests (cut when the rate budget grants one);
      // live events go first, backfilled and replayed ones yield.
      return Promise.all(records.map((r: KlaviyoEventRecord) => this.deliverer.events.submit(r, mode === 'live' && !r.backfill ? 'live' : 'backfill')));
    }
    const priority: Priority = mode === 'live' ? 'live' : 'backfill';
    if (topic === this.topics.profiles) return this.deliverer.profiles.deliver(records, priority);
    return this.deliverer.deletions.deliver(records, priority);
  }

  async stop(): Promise<void> {
    this.ready = false;
    this.abort.abort();
    await Promise.all([this.consumer?.disconnect(), this.tombstones?.disconnect()].map((p) => p?.catch(() => undefined)));
    await this.producer.disconnect().catch(() => undefined);
  }

  metricsText(): string {
    return `${[this.delivered.render(), this.deadLettered.render(), this.skipped.render(), this.retries.render()].join('\n')}\n`;
  }
}
