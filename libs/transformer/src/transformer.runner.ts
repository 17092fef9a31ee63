import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import { CONFIG, type Config } from '@iks/config';
import { CONNECTIONS, connectionKey, type Connection, type ConnectionDirectory } from '@iks/connections';
import {
  boundedKey,
  connectionOf,
  DEFAULT_CONNECTION_ID,
  type ContactSnapshot,
  type KlaviyoRecord,
  type RawNotification,
} from '@iks/domain';
import { AvroCodec, header, KAFKA, prepareStage, PRODUCER, RECEIVED_AT, topic, type Topic } from '@iks/kafka';
import { METRICS_REGISTRY } from '@iks/ops';
import {
  isTransientError,
  metricOnce,
  OnTopic,
  StageHandlers,
  StageRuntime,
  type ProducedRecord,
  type RecordOutcome,
  type StageBatch,
  type StageConsumerSpec,
  type StageRecord,
  type StageResult,
  type StageTally,
} from '@iks/stage';
import { sleep } from '@iks/retry';
import { isMappedTopic, type MappingOptions } from '@iks/mapping';
import {
  Directory,
  followContacts,
  LmdbContactStore,
  type ContactsFollower,
  type ContactValueSealer,
  type DirectoryView,
  type IntercomSource,
} from '@iks/directory';
import {
  ErasedSubjectError,
  openNotification,
  openPersonal,
  sealPersonal,
  SubjectKeys,
  unlessErased,
} from '@iks/erasure';
import { processNotification } from './notification-processor';

const H_ATTEMPT = 'iks-attempt';
const H_FIRST = 'iks-first-pending-at';
const H_NOT_BEFORE = 'iks-not-before';
const H_REASON = 'iks-pending-reason';

interface Topics {
  readonly raw: Topic<'notifications'>;
  readonly retry: Topic<'notificationsRetry'>;
  readonly contacts: Topic<'contacts'>;
  readonly events: Topic<'events'>;
  readonly profiles: Topic<'profiles'>;
  readonly deletions: Topic<'deletions'>;
}

/** How the transformer reaches a connection's Intercom workspace (its API host and token): `(connection) => IntercomSource`. */
export const CONNECTION_INTERCOM_SOURCE = Symbol('CONNECTION_INTERCOM_SOURCE');
export type ConnectionIntercomSource = (connection: Connection) => IntercomSource;

/** What this transformer consumes (TransformerStageModule's `run`): the live stage by default, a replay's own group. */
export const TRANSFORMER_RUN = Symbol('TRANSFORMER_RUN');

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
 * The consume/produce/dead-letter/commit loop is the shared StageRuntime (provided by
 * StageModule); this class holds the transformer's two handlers (@OnTopic), whether the app
 * serves them (StageServer) or a CLI replay, a test or a bench boots TransformerStageModule.
 */
@Injectable()
export class TransformerRunner implements OnApplicationShutdown {
  private readonly logger = new Logger(TransformerRunner.name);
  private readonly topics: Topics;
  /** Each connection's MappingOptions (its settings), made once per revision. */
  private readonly options = new Map<string, { readonly revision: number; readonly options: MappingOptions }>();
  private readonly stopListening: () => void;
  private directoryFollower?: ContactsFollower;
  private started = false;
  private stopped = false;
  private readonly unknownTopics = new Set<string>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(PRODUCER) private readonly producer: Producer,
    private readonly codec: AvroCodec,
    /** The contacts live on local disk (LmdbContactStore), opened in loadDirectory(). */
    readonly directory: Directory,
    private readonly runtime: StageRuntime,
    private readonly handlers: StageHandlers,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(TRANSFORMER_RUN) private readonly run: TransformerStartOptions,
    /** Which connection each notification belongs to, its settings and its Intercom workspace. */
    @Inject(CONNECTIONS) private readonly connections: ConnectionDirectory,
    @Inject(CONNECTION_INTERCOM_SOURCE) private readonly intercomSourceOf: ConnectionIntercomSource,
    /** People's data keys: every record and snapshot written has its personal fields sealed under its subject's (docs/ERASURE.md). */
    private readonly keys: SubjectKeys,
  ) {
    const p = config.kafka.topicPrefix;
    this.topics = {
      raw: topic('notifications', p),
      retry: topic('notificationsRetry', p),
      contacts: topic('contacts', p),
      events: topic('events', p),
      profiles: topic('profiles', p),
      deletions: topic('deletions', p),
    };
    // a removed connection's admins, teams and tags are let go (its contacts stay in the topic)
    this.stopListening = connections.onChange((c) => {
      if (c.status === 'removed') this.directory.forgetConnection(c.id);
    });
    const stats = this.directory.stats;
    for (const [name, help, read] of [
      ['iks_transformer_directory_contacts', 'Contacts in the directory.', () => stats.contacts],
      ['iks_transformer_directory_tombstones', 'Deleted contacts remembered by the directory.', () => stats.tombstones],
      [
        'iks_transformer_contacts_fetched_total',
        'Contacts fetched from Intercom (GET /contacts/{id}).',
        () => stats.fetchedContacts,
      ],
    ] as const) {
      metricOnce(
        registry,
        name,
        () =>
          new Gauge({
            name,
            help,
            registers: [registry],
            collect() {
              this.set(read());
            },
          }),
      );
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
    return {
      consumers: this.runtime.readinessCheck(),
      directory: { up: this.started, detail: { contacts: this.directory.stats.contacts } },
    };
  }

  liveness() {
    return { consumers: this.runtime.livenessCheck() };
  }

  specs(opts: TransformerStartOptions = this.run): StageConsumerSpec[] {
    const specs: StageConsumerSpec[] = [
      {
        groupId: opts.groupId ?? this.config.transformer.groupId,
        topics: [{ topic: this.topics.raw }],
      },
    ];
    if (opts.retryConsumer !== false) {
      specs.push({
        groupId: `${this.config.transformer.groupId}.retry`,
        topics: [{ topic: this.topics.retry }],
        // one at a time: each waits for its own not-before time
        chunkSize: 1,
      });
    }
    return specs;
  }

  /** Consumes what TRANSFORMER_RUN says, each topic by its @OnTopic handler (fails when one has none, or two). */
  async start(): Promise<void> {
    const opts = this.run;
    const handlers = this.handlers.lookup();
    await prepareStage(this.kafka, this.config.kafka, this.codec, this.producer);
    await this.keys.start();
    await this.loadDirectory();
    await this.directory.refreshReferences();
    await this.runtime.start(this.specs(opts), handlers);
    this.started = true;
    this.logger.log(
      `consuming ${this.topics.raw.name} (group ${opts.groupId ?? this.config.transformer.groupId}${opts.retryConsumer === false ? ', no retry consumer' : ''}); directory: ${this.directory.stats.contacts} contacts`,
    );
  }

  /**
   * Opens this replica's local contact store (DIRECTORY_PATH) and brings it up to date from the
   * compacted directory topic: from its stored offsets after a restart, from the beginning when
   * the store is new, damaged or does not match the topic; resolves once caught up with the end
   * offsets at start, then keeps following.
   */
  private async loadDirectory(): Promise<void> {
    // the contacts sealed on disk under the people's keys: an erased one stays unreadable in freed pages too
    const keys = this.keys;
    const sealer: ContactValueSealer = {
      seal: (connectionId, contactId, value) => keys.sealKnown({ connectionId, contactId }, Buffer.from(value, 'utf8')),
      open: (connectionId, contactId, sealed) => {
        try {
          return keys.unseal({ connectionId, contactId }, sealed).toString('utf8');
        } catch (e) {
          if (e instanceof ErasedSubjectError) return null;
          throw e;
        }
      },
    };
    this.directory.useStore(
      LmdbContactStore.open(this.config.transformer.directoryPath, this.topics.contacts.name, sealer),
    );
    this.directoryFollower = await followContacts({
      kafka: this.kafka,
      codec: this.codec,
      topic: this.topics.contacts.name,
      groupPrefix: `${this.config.transformer.groupId}.directory`,
      directory: this.directory,
      // a snapshot of an erased person no longer opens: passed over (her tombstone is in the topic)
      open: (s) => unlessErased(openPersonal(this.keys, s)),
    });
  }

  /** intercom.notifications.v1: each notification mapped in order; records that cannot be mapped become dead letters. */
  @OnTopic('notifications')
  async handleNotifications(batch: StageBatch<RawNotification>): Promise<StageResult> {
    const out: ProducedRecord[] = [];
    const outcomes: RecordOutcome[] = [];
    for (const r of batch.records) outcomes.push(await this.outcomeOf(r, out, 1, Date.now()));
    return { outcomes, produce: out };
  }

  /** intercom.notifications.v1.retry: one at a time, after its not-before time. */
  @OnTopic('notificationsRetry')
  async handleRetries(batch: StageBatch<RawNotification>): Promise<StageResult> {
    const out: ProducedRecord[] = [];
    const outcomes: RecordOutcome[] = [];
    for (const r of batch.records) {
      const m = r.message;
      const notBefore = Number(header(m.headers, H_NOT_BEFORE) ?? 0);
      while (Date.now() < notBefore) {
        if (!batch.isRunning()) return { outcomes: [], aborted: true };
        await batch.heartbeat();
        await sleep(Math.min(1000, notBefore - Date.now()));
      }
      const attempt = Number(header(m.headers, H_ATTEMPT) ?? 1);
      const first = Number(header(m.headers, H_FIRST) ?? Date.now());
      outcomes.push(await this.outcomeOf(r, out, attempt + 1, first));
    }
    return { outcomes, produce: out };
  }

  /** One record: its outputs are appended to `out` only when it maps (a poison record produces nothing). */
  private async outcomeOf(
    r: StageRecord<RawNotification>,
    out: ProducedRecord[],
    attempt: number,
    firstPendingAt: number,
  ): Promise<RecordOutcome> {
    const mine: ProducedRecord[] = [];
    try {
      const outcome = await this.handle(r, mine, attempt, firstPendingAt);
      out.push(...mine);
      return outcome;
    } catch (e) {
      if (isTransientError(e)) throw e; // the stage cannot work now: nothing committed, retried
      return {
        kind: 'dead_letter',
        error: e,
        attempts: attempt > 1 ? attempt - 1 : undefined,
        firstFailureAt: attempt > 1 ? firstPendingAt : undefined,
      };
    }
  }

  /** Process one notification and queue its outputs (records, snapshots, retry). */
  private async handle(
    { message: m, value: sealed }: StageRecord<RawNotification>,
    out: ProducedRecord[],
    attempt: number,
    firstPendingAt: number,
  ): Promise<RecordOutcome> {
    // one of the people it names erased: skipped, not a dead letter (a replay from the beginning
    // after a deletion passes over it and re-creates no one)
    const raw = await openNotification(this.keys, sealed);
    if (raw === null)
      return { kind: 'skip', reason: 'erased', source: isMappedTopic(sealed.topic) ? sealed.topic : 'other' };
    const connection = this.connectionOf(raw);
    const result = await processNotification(
      raw,
      this.viewOf(connection),
      this.optionsOf(connection),
      this.config.transformer.reconcileBackfillAfterMs,
    );
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
      throw new ContactNotIdentifiableError(
        `${result.reason}; gave up after ${Math.round((now - firstPendingAt) / 1000)} s and ${attempt - 1} attempt(s)`,
      );
    }
    const delay = Math.min(this.config.transformer.contactRetryInitialMs * 2 ** (attempt - 1), 15 * 60_000);
    out.push({
      topic: this.topics.retry.name,
      message: {
        key: m.key,
        value: await this.codec.encodeAs(this.topics.retry, raw),
        headers: {
          [H_ATTEMPT]: String(attempt),
          [H_FIRST]: String(firstPendingAt),
          [H_NOT_BEFORE]: String(now + delay),
          [H_REASON]: result.reason,
        },
      },
    });
    return { kind: 'pending', reason: normalizeReason(result.reason), source };
  }

  /** The notification's connection; a removed or unknown one cannot be mapped (→ dead letter with the reason). */
  private connectionOf(raw: RawNotification): Connection {
    const id = connectionOf(raw);
    const connection = this.connections.get(id);
    if (!connection) {
      throw new UnknownConnectionError(
        id === DEFAULT_CONNECTION_ID
          ? 'the notification belongs to the default connection, which this deployment does not have (CONNECTIONS_DEFAULT=off?)'
          : `the notification belongs to connection ${JSON.stringify(id.slice(0, 100))}, which is not in the connections directory (never added, or not yet seen)`,
      );
    }
    if (connection.status === 'removed') {
      throw new UnknownConnectionError(
        `the notification belongs to connection ${JSON.stringify(id)}, which was removed (revision ${connection.revision}); add it again and reprocess this dead letter to map it`,
      );
    }
    return connection;
  }

  /** The directory of the connection's workspace: its contacts apart from every other's, its own admins and teams. */
  private viewOf(connection: Connection): DirectoryView {
    return this.directory.forConnection(connection.id, () => this.intercomSourceOf(connection), connection.revision);
  }

  private optionsOf(connection: Connection): MappingOptions {
    const known = this.options.get(connection.id);
    if (known && known.revision === connection.revision) return known.options;
    const s = connection.settings;
    const options: MappingOptions = {
      metricNames: s.metricNames,
      deleteOnArchive: s.deleteOnArchive,
      defaultPhoneRegion: s.defaultPhoneRegion ?? undefined,
    };
    this.options.set(connection.id, { revision: connection.revision, options });
    return options;
  }

  /** Unknown topics are logged once each (at most 100 distinct), counted as unmapped_topic. */
  private noteUnknownTopic(topic: string): void {
    if (this.unknownTopics.size >= 100 || this.unknownTopics.has(topic)) return;
    this.unknownTopics.add(topic);
    this.logger.log(
      `Intercom topic ${JSON.stringify(topic.slice(0, 200))} is not mapped: acknowledged, kept in the raw topic, counted as unmapped_topic`,
    );
  }

  /** Keys: today's for the default connection, `<connection id>/<today's key>` for another (docs/CONNECTIONS.md). */
  private async encodeRecord(r: KlaviyoRecord): Promise<ProducedRecord> {
    const cid = connectionOf(r);
    switch (r.kind) {
      case 'event':
        return {
          topic: this.topics.events.name,
          message: {
            key: connectionKey(cid, boundedKey(r.intercom_contact_id ?? r.unique_id)),
            value: await this.codec.encodeAs(this.topics.events, await sealPersonal(this.keys, r)),
          },
        };
      case 'profile':
        return {
          topic: this.topics.profiles.name,
          message: {
            key: connectionKey(cid, boundedKey(r.intercom_contact_id)),
            value: await this.codec.encodeAs(this.topics.profiles, await sealPersonal(this.keys, r)),
          },
        };
      case 'deletion':
        return {
          topic: this.topics.deletions.name,
          message: {
            key: connectionKey(cid, boundedKey(r.intercom_contact_id)),
            value: await this.codec.encodeAs(this.topics.deletions, await sealPersonal(this.keys, r)),
          },
        };
    }
  }

  private async encodeSnapshot(s: ContactSnapshot): Promise<ProducedRecord> {
    return {
      topic: this.topics.contacts.name,
      message: {
        key: connectionKey(connectionOf(s), boundedKey(s.id)),
        value: await this.codec.encodeAs(this.topics.contacts, await sealPersonal(this.keys, s)),
      },
    };
  }

  /** Stops consuming, the directory follower and its store, and the producer's connection (once). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopListening();
    await this.runtime.stop();
    await this.directoryFollower?.stop();
    await this.directory.close().catch((e) => this.logger.warn(`closing the directory store: ${(e as Error).message}`));
    await this.keys.stop().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
    await this.afterStop?.();
  }

  /** Set by createTransformerRunner: closes the context the runner came from (its other providers). */
  afterStop?: () => Promise<void>;

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}

/** A reason as a bounded label: ids and notification ids are not part of it. */
function normalizeReason(reason: string): string {
  return reason.replace(/\b\d{3,}\b|notif_\w+/g, '*').slice(0, 120);
}

/** A notification of a connection the directory does not have, or has removed: dead-lettered with the reason. */
export class UnknownConnectionError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'UnknownConnectionError';
  }
}

export class ContactNotIdentifiableError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'ContactNotIdentifiableError';
  }
}
