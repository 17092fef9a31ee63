import { Logger } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { ContactSnapshot, KlaviyoRecord } from '@iks/domain';
import {
  AvroCodec, Counters, createKafka, createProducer, DeadLetterPublisher, decodeOrPoison, describeError, followTopic, GROUP_TIMING, header, nextOffset, prepareStage, RecordDecodeError,
  serdes, sleep, topicName,
} from '@iks/kafka';
import { MappingError, type MappingOptions } from '@iks/mapping';
import { Directory, type IntercomSource } from '@iks/directory';
import { processNotification } from './notification-processor';

const H_ATTEMPT = 'iks-attempt';
const H_FIRST = 'iks-first-pending-at';
const H_NOT_BEFORE = 'iks-not-before';
const H_REASON = 'iks-pending-reason';
const CHUNK = 500;

interface Topics {
  readonly raw: string;
  readonly retry: string;
  readonly contacts: string;
  readonly events: string;
  readonly profiles: string;
  readonly deletions: string;
}

/**
 * Consumes intercom.notifications.v1, maps, produces to klaviyo.* topics, then commits
 * (at-least-once: offsets are committed only after the produced records are acknowledged).
 * A record that cannot be decoded or mapped goes to `<topic>.dlq` and the partition moves on.
 * A notification whose contact is not identifiable yet goes to the retry topic and is tried
 * again with backoff by a second consumer, then dead-lettered after CONTACT_WAIT_MAX_MS.
 */
export class TransformerRunner {
  private readonly logger = new Logger(TransformerRunner.name);
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly codec: AvroCodec;
  private readonly dlq: DeadLetterPublisher;
  readonly directory: Directory;
  private readonly topics: Topics;
  private readonly options: MappingOptions;
  private consumers: Consumer[] = [];
  private main?: Consumer;
  private retry?: Consumer;
  readonly outcomes = new Counters('iks_transformer_notifications_total', 'Notifications processed, by outcome, reason and Intercom topic.');
  readonly produced = new Counters('iks_transformer_records_produced_total', 'Records produced, by topic.');
  private ready = false;

  constructor(private readonly config: Config, source: IntercomSource) {
    this.kafka = createKafka(config.kafka);
    this.producer = createProducer(this.kafka);
    this.codec = new AvroCodec(config.kafka);
    this.dlq = new DeadLetterPublisher(this.producer, this.codec);
    this.directory = new Directory(source, config.transformer.directoryRefreshMs);
    const p = config.kafka.topicPrefix;
    this.topics = {
      raw: topicName('notifications', p), retry: topicName('notificationsRetry', p), contacts: topicName('contacts', p),
      events: topicName('events', p), profiles: topicName('profiles', p), deletions: topicName('deletions', p),
    };
    this.options = {
      metricNames: config.transformer.metricNames,
      deleteOnArchive: config.transformer.deleteOnArchive,
      defaultPhoneRegion: config.transformer.defaultPhoneRegion ?? undefined,
    };
  }

  get isReady(): boolean {
    return this.ready;
  }

  /**
   * `groupId` replaces TRANSFORMER_GROUP_ID for the raw topic (a replay's own group);
   * `retryConsumer: false` leaves the retry topic to the live transformer.
   */
  async start(opts: { readonly groupId?: string; readonly retryConsumer?: boolean } = {}): Promise<void> {
    const groupId = opts.groupId ?? this.config.transformer.groupId;
    await prepareStage(this.kafka, this.config.kafka, this.codec, this.producer);
    await this.loadDirectory();
    await this.directory.refreshReferences();

    const main = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, ...GROUP_TIMING });
    await main.connect();
    await main.subscribe({ topic: this.topics.raw, fromBeginning: true });
    this.main = main;
    await main.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onRawBatch(p) });
    this.consumers.push(main);
    if (opts.retryConsumer === false) {
      this.ready = true;
      this.logger.log(`consuming ${this.topics.raw} (group ${groupId}, no retry consumer)`);
      return;
    }

    const retry = this.kafka.consumer({ groupId: `${this.config.transformer.groupId}.retry`, allowAutoTopicCreation: false, ...GROUP_TIMING });
    await retry.connect();
    await retry.subscribe({ topic: this.topics.retry, fromBeginning: true });
    this.retry = retry;
    await retry.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onRetryBatch(p) });
    this.consumers.push(retry);
    this.ready = true;
    this.logger.log(`consuming ${this.topics.raw} (group ${groupId}); directory: ${this.directory.stats.contacts} contacts`);
  }

  /**
   * Replays the compacted directory topic from the beginning (its own throw-away group, no
   * commits) until caught up with the end offsets at start, then keeps following it.
   */
  private async loadDirectory(): Promise<void> {
    const consumer = await followTopic(this.kafka, this.topics.contacts, `${this.config.transformer.groupId}.directory`, async (m) => {
      if (m.value) this.directory.apply(serdes.contactFromAvro(await this.codec.decode(m.value)));
    });
    this.consumers.push(consumer);
  }

  private async onRawBatch({ batch, heartbeat, isRunning, isStale, commitOffsetsIfNecessary, resolveOffset }: EachBatchPayload): Promise<void> {
    for (let i = 0; i < batch.messages.length; i += CHUNK) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(i, i + CHUNK);
      const out: Array<{ topic: string; message: Message }> = [];
      const letters: KafkaMessage[] = [];
      const errors = new Map<KafkaMessage, unknown>();
      for (const m of chunk) {
        try {
          await this.handle(m, out, 1, Date.now());
        } catch (e) {
          if (isPoison(e)) {
            letters.push(m);
            errors.set(m, e);
          } else throw e; // infrastructure failure: nothing committed, the batch is read again
        }
      }
      await this.flush(out);
      for (const m of letters) {
        await this.dlq.publish({ topic: batch.topic, partition: batch.partition, message: m, stage: 'transformer', error: errors.get(m) });
        this.outcomes.inc({ outcome: 'dead_letter', reason: describeError(errors.get(m)).cls, topic: 'unknown' });
      }
      const last = chunk[chunk.length - 1];
      resolveOffset(last.offset);
      await this.main!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(last.offset) }]);
      await heartbeat();
    }
    await commitOffsetsIfNecessary();
  }

  private async onRetryBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    for (const m of batch.messages) {
      const notBefore = Number(header(m.headers, H_NOT_BEFORE) ?? 0);
      while (Date.now() < notBefore) {
        if (!isRunning() || isStale()) return;
        await heartbeat();
        await sleep(Math.min(1000, notBefore - Date.now()));
      }
      const attempt = Number(header(m.headers, H_ATTEMPT) ?? 1);
      const first = Number(header(m.headers, H_FIRST) ?? Date.now());
      const out: Array<{ topic: string; message: Message }> = [];
      try {
        await this.handle(m, out, attempt + 1, first);
      } catch (e) {
        if (!isPoison(e)) throw e;
        await this.dlq.publish({ topic: batch.topic, partition: batch.partition, message: m, stage: 'transformer', error: e, attempts: attempt });
      }
      await this.flush(out);
      resolveOffset(m.offset);
      await this.retry!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(m.offset) }]);
      await heartbeat();
    }
  }

  /** Decode, process, and queue the outputs of one message (records, snapshots, retry). */
  private async handle(m: KafkaMessage, out: Array<{ topic: string; message: Message }>, attempt: number, firstPendingAt: number): Promise<void> {
    const raw = serdes.notificationFromAvro(await decodeOrPoison(this.codec, m.value));
    const result = await processNotification(raw, this.directory, this.options);
    for (const r of result.records) out.push(await this.encodeRecord(r));
    for (const s of result.snapshots) out.push(await this.encodeSnapshot(s));
    if (result.kind === 'pending') {
      const now = Date.now();
      if (now - firstPendingAt >= this.config.transformer.contactWaitMaxMs) {
        throw new ContactNotIdentifiableError(`${result.reason}; gave up after ${Math.round((now - firstPendingAt) / 1000)} s and ${attempt - 1} attempt(s)`);
      }
      const delay = Math.min(this.config.transformer.contactRetryInitialMs * 2 ** (attempt - 1), 15 * 60_000);
      out.push({
        topic: this.topics.retry,
        message: {
          key: m.key, value: await this.codec.encode(this.topics.retry, serdes.notificationToAvro(raw)),
          headers: { [H_ATTEMPT]: String(attempt), [H_FIRST]: String(firstPendingAt), [H_NOT_BEFORE]: String(now + delay), [H_REASON]: result.reason },
        },
      });
    }
    const reason = result.kind === 'records' ? 'mapped' : result.reason.replace(/\b\d{3,}\b|notif_\w+/g, '*');
    this.outcomes.inc({ outcome: result.kind, reason, topic: raw.topic });
  }

  private async encodeRecord(r: KlaviyoRecord): Promise<{ topic: string; message: Message }> {
    switch (r.kind) {
      case 'event':
        return { topic: this.topics.events, message: { key: r.intercom_contact_id ?? r.unique_id, value: await this.codec.encode(this.topics.events, serdes.eventToAvro(r)) } };
      case 'profile':
        return { topic: this.topics.profiles, message: { key: r.intercom_contact_id, value: await this.codec.encode(this.topics.profiles, serdes.profileToAvro(r)) } };
      case 'deletion':
        return { topic: this.topics.deletions, message: { key: r.intercom_contact_id, value: await this.codec.encode(this.topics.deletions, serdes.deletionToAvro(r)) } };
    }
  }

  private async encodeSnapshot(s: ContactSnapshot): Promise<{ topic: string; message: Message }> {
    return { topic: this.topics.contacts, message: { key: s.id, value: await this.codec.encode(this.topics.contacts, serdes.contactToAvro(s)) } };
  }

  private async flush(out: Array<{ topic: string; message: Message }>): Promise<void> {
    if (out.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const o of out) {
      const list = byTopic.get(o.topic);
      if (list) list.push(o.message);
      else byTopic.set(o.topic, [o.message]);
    }
    await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    for (const [topic, messages] of byTopic) this.produced.inc({ topic }, messages.length);
  }

  async stop(): Promise<void> {
    this.ready = false;
    await Promise.all(this.consumers.map((c) => c.disconnect().catch(() => undefined)));
    await this.producer.disconnect().catch(() => undefined);
  }

  metricsText(): string {
    const s = this.directory.stats;
    return [
      this.outcomes.render(), this.produced.render(),
      '# TYPE iks_transformer_directory_contacts gauge', `iks_transformer_directory_contacts ${s.contacts}`,
      '# TYPE iks_transformer_directory_tombstones gauge', `iks_transformer_directory_tombstones ${s.tombstones}`,
      '# TYPE iks_transformer_contacts_fetched_total counter', `iks_transformer_contacts_fetched_total ${s.fetchedContacts}`,
      '',
    ].join('\n');
  }
}

export class ContactNotIdentifiableError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ContactNotIdentifiableError';
  }
}

/** Records that will never process: dead-letter them. Anything else is infrastructure: retry. */
function isPoison(e: unknown): boolean {
  return e instanceof MappingError || e instanceof ContactNotIdentifiableError || e instanceof RecordDecodeError;
}
