import { Logger } from '@nestjs/common';
import type { Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Gauge, Registry } from 'prom-client';
import type { Config } from '@iks/config';
import { boundedKey, type ContactSnapshot, type KlaviyoRecord } from '@iks/domain';
import {
  AvroCodec, createKafka, createProducer, decodeOrPoison, header, isTransientError, metricOnce, prepareStage, RECEIVED_AT,
  serdes, sleep, StageRuntime, topicName, type HandlerLookup, type ProducedRecord, type RecordOutcome, type StageBatch, type StageConsumerSpec,
  type StageResult, type StageTally,
} from '@iks/kafka';
import { isMappedTopic, type MappingOptions } from '@iks/mapping';
import { Directory, followContacts, LmdbContactStore, type ContactsFollower, type IntercomSource } from '@iks/directory';
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

/** The @EventPattern of each topic the transformer consumes. */
export const TRANSFORMER_PATTERNS = { notifications: 'intercom.notifications', retry: 'intercom.notifications.retry' } as const;

export interface TransformerStartOptions {
  /** Replaces TRANSFORMER_GROUP_ID for the raw topic (a replay's own group). */
  readonly groupId?: string;
  /** false leaves the retry topic to the live transformer. */
  readonly retryConsumer?: boolean;
}

/**
 * Consumes intercom.notifications.v1, maps, produces to klaviyo.* topics, then commits
 * (at-least-once: offsets are committed only after the produced records are acknowledged).
 * A record that cannot be decoded or mapped goes to `<topic>.dlq` and the partition moves on.
 * A notification whose contact is not identifiable yet goes to the retry topic and is tried
 * again with backoff by a second consumer, then dead-lettered after CONTACT_WAIT_MAX_MS.
 * The consume/produce/dead-letter/commit loop is the shared StageRuntime; this class holds the
 * transformer's two handlers (served by @EventPattern in the app, or directly by start()).
 */
export class TransformerRunner {
  private readonly logger = new Logger(TransformerRunner.name);
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly codec: AvroCodec;
  readonly directory: Directory;
  private readonly topics: Topics;
  private readonly options: MappingOptions;
  private readonly runtime: StageRuntime;
  private directoryFollower?: ContactsFollower;
  private started = false;
  private readonly unknownTopics = new Set<string>();

  constructor(private readonly config: Config, source: IntercomSource, registry: Registry = new Registry(), onFatal?: (e: unknown) => void) {
    this.kafka = createKafka(config.kafka);
    this.producer = createProducer(this.kafka);
    this.codec = new AvroCodec(config.kafka);
    // the contacts live on local disk (LmdbContactStore), opened in loadDirectory()
    this.directory = new Directory(source, config.transformer.directoryRefreshMs, { cacheContacts: config.transformer.directoryCacheContacts });
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
    this.runtime = new StageRuntime({
      stage: 'transformer', kafka: this.kafka, producer: this.producer, codec: this.codec, registry,
      stallReadyMs: config.stage.stallReadyMs, stallLiveMs: config.stage.stallLiveMs, onFatal,
    });
    const stats = this.directory.stats;
    for (const [name, help, read] of [
      ['iks_transformer_directory_contacts', 'Contacts in the directory.', () => stats.contacts],
      ['iks_transformer_directory_tombstones', 'Deleted contacts remembered by the directory.', () => stats.tombstones],
      ['iks_transformer_contacts_fetched_total', 'Contacts fetched from Intercom (GET /contacts/{id}).', () => stats.fetchedContacts],
    ] as const) {
      metricOnce(registry, name, () => new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } }));
    }
  }

  /** Every outcome, note and produced record, typed (and in /metrics). */
  get tally(): StageTally {
    return this.runtime.tally;
  }

  get isReady(): boolean {
    return this.runtime.health().ready;
  }

  readiness() {
    return { consumers: this.runtime.readinessCheck(), directory: { up: this.started, detail: { contacts: this.directory.stats.contacts } } };
  }

  liveness() {
    return { consumers: this.runtime.livenessCheck() };
  }

  specs(opts: TransformerStartOptions = {}): StageConsumerSpec[] {
    const specs: StageConsumerSpec[] = [{
      groupId: opts.groupId ?? this.config.transformer.groupId,
      topics: [{ topic: this.topics.raw, pattern: TRANSFORMER_PATTERNS.notifications }],
    }];
    if (opts.retryConsumer !== false) {
      specs.push({
        groupId: `${this.config.transformer.groupId}.retry`,
        topics: [{ topic: this.topics.retry, pattern: TRANSFORMER_PATTERNS.retry }],
        // one at a time: each waits for its own not-before time
        chunkSize: 1,
      });
    }
    return specs;
  }

  /** The transformer's own handlers, for a run without Nest (CLI replay, tests, benches). */
  readonly handlerFor: HandlerLookup = (pattern) =>
    pattern === TRANSFORMER_PATTERNS.notifications ? (b) => this.handleNotifications(b) : pattern === TRANSFORMER_PATTERNS.retry ? (b) => this.handleRetries(b) : undefined;

  async start(opts: TransformerStartOptions = {}, handlerFor: HandlerLookup = this.handlerFor): Promise<void> {
    await prepareStage(this.kafka, this.config.kafka, this.codec, this.producer);
    await this.loadDirectory();
    await this.directory.refreshReferences();
    await this.runtime.start(this.specs(opts), handlerFor);
    this.started = true;
    this.logger.log(`consuming ${this.topics.raw} (group ${opts.groupId ?? this.config.transformer.groupId}${opts.retryConsumer === false ? ', no retry consumer' : ''}); directory: ${this.directory.stats.contacts} contacts`);
  }

  /**
   * Opens this replica's local contact store (DIRECTORY_PATH) and brings it up to date from the
   * compacted directory topic: from its stored offsets after a restart, from the beginning when
   * the store is new, damaged or does not match the topic; resolves once caught up with the end
   * offsets at start, then keeps following.
   */
  private async loadDirectory(): Promise<void> {
    this.directory.useStore(LmdbContactStore.open(this.config.transformer.directoryPath, this.topics.contacts));
    this.directoryFollower = await followContacts({
      kafka: this.kafka, codec: this.codec, topic: this.topics.contacts, groupPrefix: `${this.config.transformer.groupId}.directory`, directory: this.directory,
    });
  }

  /** intercom.notifications.v1: each notification mapped in order; poison records become dead letters. */
  async handleNotifications(batch: StageBatch): Promise<StageResult> {
    const out: ProducedRecord[] = [];
    const outcomes: RecordOutcome[] = [];
    for (const m of batch.messages) outcomes.push(await this.outcomeOf(m, out, 1, Date.now()));
    return { outcomes, produce: out };
  }

  /** intercom.notifications.v1.retry: one at a time, after its not-before time. */
  async handleRetries(batch: StageBatch): Promise<StageResult> {
    const out: ProducedRecord[] = [];
    const outcomes: RecordOutcome[] = [];
    for (const m of batch.messages) {
      const notBefore = Number(header(m.headers, H_NOT_BEFORE) ?? 0);
      while (Date.now() < notBefore) {
        if (!batch.isRunning()) return { outcomes: [], aborted: true };
        await batch.heartbeat();
        await sleep(Math.min(1000, notBefore - Date.now()));
      }
      const attempt = Number(header(m.headers, H_ATTEMPT) ?? 1);
      const first = Number(header(m.headers, H_FIRST) ?? Date.now());
      outcomes.push(await this.outcomeOf(m, out, attempt + 1, first));
    }
    return { outcomes, produce: out };
  }

  /** One record: its outputs are appended to `out` only when it maps (a poison record produces nothing). */
  private async outcomeOf(m: KafkaMessage, out: ProducedRecord[], attempt: number, firstPendingAt: number): Promise<RecordOutcome> {
    const mine: ProducedRecord[] = [];
    try {
      const outcome = await this.handle(m, mine, attempt, firstPendingAt);
      out.push(...mine);
      return outcome;
    } catch (e) {
      if (isTransientError(e)) throw e; // the stage cannot work now: nothing committed, retried
      return { kind: 'dead_letter', error: e, attempts: attempt > 1 ? attempt - 1 : undefined, firstFailureAt: attempt > 1 ? firstPendingAt : undefined };
    }
  }

  /** Decode, process, and queue the outputs of one message (records, snapshots, retry). */
  private async handle(m: KafkaMessage, out: ProducedRecord[], attempt: number, firstPendingAt: number): Promise<RecordOutcome> {
    const raw = serdes.notificationFromAvro(await decodeOrPoison(this.codec, m.value));
    const result = await processNotification(raw, this.directory, this.options, this.config.transformer.reconcileBackfillAfterMs);
    // lineage: when ingest accepted the notification, for the console's person page
    const lineage = { [RECEIVED_AT]: String(raw.received_at) };
    for (const r of result.records) {
      const produced = await this.encodeRecord(r);
      out.push({ topic: produced.topic, message: { ...produced.message, headers: lineage } });
    }
    for (const s of result.snapshots) out.push(await this.encodeSnapshot(s));
    // the Intercom topic as a label, bounded: topics the mapping knows by name, anything else "other"
    const source = isMappedTopic(raw.topic) ? raw.topic : 'other';
    if (result.kind === 'records') return { kind: 'done', reason: 'mapped', source, notes: result.notes };
    if (result.kind === 'skip') {
      if (source === 'other') {
        this.noteUnknownTopic(raw.topic);
        return { kind: 'skip', reason: 'unmapped_topic', source };
      }
      return { kind: 'skip', reason: normalizeReason(result.reason), source };
    }
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
    return { kind: 'pending', reason: normalizeReason(result.reason), source };
  }

  /** Unknown topics are logged once each (at most 100 distinct), counted as unmapped_topic. */
  private noteUnknownTopic(topic: string): void {
    if (this.unknownTopics.size >= 100 || this.unknownTopics.has(topic)) return;
    this.unknownTopics.add(topic);
    this.logger.log(`Intercom topic ${JSON.stringify(topic.slice(0, 200))} is not mapped: acknowledged, kept in the raw topic, counted as unmapped_topic`);
  }

  private async encodeRecord(r: KlaviyoRecord): Promise<ProducedRecord> {
    switch (r.kind) {
      case 'event':
        return { topic: this.topics.events, message: { key: boundedKey(r.intercom_contact_id ?? r.unique_id), value: await this.codec.encode(this.topics.events, serdes.eventToAvro(r)) } };
      case 'profile':
        return { topic: this.topics.profiles, message: { key: boundedKey(r.intercom_contact_id), value: await this.codec.encode(this.topics.profiles, serdes.profileToAvro(r)) } };
      case 'deletion':
        return { topic: this.topics.deletions, message: { key: boundedKey(r.intercom_contact_id), value: await this.codec.encode(this.topics.deletions, serdes.deletionToAvro(r)) } };
    }
  }

  private async encodeSnapshot(s: ContactSnapshot): Promise<ProducedRecord> {
    return { topic: this.topics.contacts, message: { key: boundedKey(s.id), value: await this.codec.encode(this.topics.contacts, serdes.contactToAvro(s)) } };
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
    await this.directoryFollower?.stop();
    await this.directory.close().catch((e) => this.logger.warn(`closing the directory store: ${(e as Error).message}`));
    await this.producer.disconnect().catch(() => undefined);
  }
}

/** A reason as a bounded label: ids and notification ids are not part of it. */
function normalizeReason(reason: string): string {
  return reason.replace(/\b\d{3,}\b|notif_\w+/g, '*').slice(0, 120);
}

export class ContactNotIdentifiableError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ContactNotIdentifiableError';
  }
}
