import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { PartitionAssigners, type Kafka, type Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import type { KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord, KlaviyoRecord } from '@iks/domain';
import { AvroCodec, KAFKA, prepareStage, PRODUCER, topic, topicName, type Topic } from '@iks/kafka';
import {
  OnTopic,
  StageHandlers,
  StageRuntime,
  type AnyStageTopic,
  type RecordOutcome,
  type StageBatch,
  type StageConsumerSpec,
  type StageHealth,
  type StageResult,
  type StageTally,
} from '@iks/stage';
import type { DeliveryResult, KlaviyoDelivery, Priority } from '@iks/klaviyo';
import { outcomeSubject } from './outcome-subject';
import { BudgetShare } from './budget-share';
import { DeletedContacts, followDeletions, type DeletionsFollower } from './deleted-contacts';
import { SinkMetrics } from './sink-metrics';
import { KLAVIYO_DELIVERY, SINK_ABORT, SINK_RUN } from './sink.tokens';

type SinkTopic = 'events' | 'profiles' | 'deletions';
const SINK_TOPICS: readonly SinkTopic[] = ['events', 'profiles', 'deletions'];

export interface SinkRunOptions {
  /** Consumer group (default SINK_GROUP_ID); a replay uses its own. */
  readonly groupId?: string;
  /** Which of the normalized topics to deliver (default all three). */
  readonly topics?: readonly SinkTopic[];
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

/** Heartbeat answers that mean the member must rejoin its group (kafkajs isRebalancing, and a dropped member). */
const REBALANCE_ERRORS = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'NOT_COORDINATOR_FOR_GROUP',
  'UNKNOWN_MEMBER_ID',
]);
/** How often a batch waiting for delivery asks the coordinator (kafkajs sends at most one heartbeat per heartbeatInterval). */
const REBALANCE_CHECK_MS = 1000;

/** The topics a run delivers (default all three). */
export function sinkTopicsOf(run: SinkRunOptions): readonly SinkTopic[] {
  return run.topics ?? SINK_TOPICS;
}

/**
 * Kafka Connect's sink contract: deliver, then commit. Each batch of a partition is decoded,
 * delivered to Klaviyo (bulk for events, under one rate budget per account), refused records go
 * to `<topic>.dlq` with Klaviyo's error, and only then is the offset committed. A crash re-sends
 * at most the uncommitted records; their deterministic unique_id makes Klaviyo drop the repeat.
 */
@Injectable()
export class SinkRunner implements OnApplicationShutdown {
  private readonly logger = new Logger(SinkRunner.name);
  /** Follows klaviyo.deletions.v1 into deletedContacts from its stored offsets. */
  tombstones?: DeletionsFollower;
  /** Intercom contacts with a deletion request, on disk: their profiles and events are never sent again (replays included). */
  deletedContacts?: DeletedContacts;
  private readonly topics: {
    readonly events: Topic<'events'>;
    readonly profiles: Topic<'profiles'>;
    readonly deletions: Topic<'deletions'>;
  };
  private readonly mode: 'live' | 'replay';
  private stopped = false;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(PRODUCER) private readonly producer: Producer,
    private readonly codec: AvroCodec,
    @Inject(KLAVIYO_DELIVERY) readonly deliverer: KlaviyoDelivery,
    /** This replica's share of the account's rate limits among the group's replicas. */
    readonly budgetShare: BudgetShare,
    private readonly metrics: SinkMetrics,
    private readonly runtime: StageRuntime,
    private readonly handlers: StageHandlers,
    @Inject(SINK_ABORT) private readonly abort: AbortController,
    @Inject(SINK_RUN) private readonly run: SinkRunOptions,
  ) {
    const p = config.kafka.topicPrefix;
    this.topics = { events: topic('events', p), profiles: topic('profiles', p), deletions: topic('deletions', p) };
    this.mode = run.mode ?? 'live';
  }

  /** Klaviyo requests retried (also iks_sink_klaviyo_retries_total by operation). */
  get retryCount(): number {
    return this.metrics.retryCount;
  }

  /** Every outcome (delivered, skipped, dead-lettered), typed (and in /metrics). */
  get tally(): StageTally {
    return this.runtime.tally;
  }

  get isReady(): boolean {
    return this.health().ready;
  }

  /**
   * The stage's health, with a key Klaviyo refuses folded in: the caller retries the request in
   * place (nothing throws, nothing is committed), so the consumers would look healthy until the
   * stall limit; the refusal is the consumers' failure now.
   */
  health(): StageHealth {
    const h = this.runtime.health();
    const failing = this.keyRefusal();
    if (failing === null) return h;
    return { ...h, ready: false, consumers: h.consumers.map((c) => ({ ...c, failing: c.failing ?? failing })) };
  }

  readiness() {
    const refusal = this.keyRefusal();
    return {
      consumers: this.runtime.readinessCheck(),
      klaviyo: { up: refusal === null, detail: refusal === null ? {} : { message: refusal } },
    };
  }

  private keyRefusal(): string | null {
    const refused = this.deliverer.caller.systemicStatus;
    return refused === null ? null : `Klaviyo refuses the API key (${refused}); delivery paused and retried`;
  }

  liveness() {
    return { consumers: this.runtime.livenessCheck() };
  }

  /** The consumer group of this run (SINK_RUN). The replicas share the account's limits through the BudgetShare's assigner. */
  specs(): StageConsumerSpec[] {
    const opts = this.run;
    const share = this.budgetShare;
    // what happened to each record, for the console (klaviyo.outcomes.v1): outcomeSubject says what a record was
    const consumed: Readonly<Record<SinkTopic, AnyStageTopic>> = {
      events: { topic: this.topics.events, describe: outcomeSubject },
      profiles: { topic: this.topics.profiles, describe: outcomeSubject },
      deletions: { topic: this.topics.deletions, describe: outcomeSubject },
    };
    return [
      {
        groupId: opts.groupId ?? this.config.sink.groupId,
        topics: sinkTopicsOf(opts).map((t) => consumed[t]),
        // large fetches so that bulk requests fill up to Klaviyo's 1,000 events; round robin as well, so a
        // member without budget shares (an older sink during a rolling upgrade) can still join the group
        consumer: {
          maxBytesPerPartition: 4 * 1024 * 1024,
          maxBytes: 16 * 1024 * 1024,
          partitionAssigners: [share.assigner, PartitionAssigners.roundRobin],
        },
        onAssignment: (assignment) => share.onAssignment(assignment),
        // every partition of the three topics at once, so their events can share bulk requests
        partitionsConsumedConcurrently: 3 * this.config.kafka.partitions,
        chunkSize: Number.MAX_SAFE_INTEGER,
        seek: opts.seek,
        until: opts.until,
        beforeCommit: opts.beforeCommit,
        outcomesTopic: topicName('outcomes', this.config.kafka.topicPrefix),
      },
    ];
  }

  /** Delivers what SINK_RUN says, each topic by its @OnTopic handler (fails when one has none, or two). */
  async start(): Promise<void> {
    const opts = this.run;
    const handlers = this.handlers.lookup();
    const specs = this.specs();
    void this.budgetShare.connect().catch(() => undefined); // retried when the group is read
    await prepareStage(this.kafka, this.config.kafka, this.codec, this.producer);
    const groupId = opts.groupId ?? this.config.sink.groupId;
    // MAPPING.md: a deleted person is not brought back by a later replay (or a late upsert).
    this.deletedContacts = DeletedContacts.open(this.config.sink.deletedContactsPath, this.topics.deletions.name);
    this.tombstones = await followDeletions({
      kafka: this.kafka,
      codec: this.codec,
      topic: this.topics.deletions.name,
      groupPrefix: `${groupId}.tombstones`,
      store: this.deletedContacts,
    });
    await this.runtime.start(specs, handlers);
    this.logger.log(
      `delivering ${sinkTopicsOf(opts).join(', ')} to ${this.config.klaviyo.baseUrl} (group ${groupId}, ${this.mode})`,
    );
  }

  /** klaviyo.events.v1: events of every partition share bulk requests (cut when the rate budget grants one); live events go first, backfilled and replayed ones yield. */
  @OnTopic('events')
  handleEvents(batch: StageBatch<KlaviyoEventRecord>): Promise<StageResult> {
    return this.handleRecords(batch, (records, gaveUp) =>
      Promise.all(
        records.map((r) =>
          this.deliverer.events.submit(r, this.mode === 'live' && !r.backfill ? 'live' : 'backfill', gaveUp),
        ),
      ),
    );
  }

  /** klaviyo.profiles.v1: Create or Update Profile. */
  @OnTopic('profiles')
  handleProfiles(batch: StageBatch<KlaviyoProfileRecord>): Promise<StageResult> {
    return this.handleRecords(batch, (records) => this.deliverer.profiles.deliver(records, this.priority()));
  }

  /** klaviyo.deletions.v1: data privacy deletion jobs. */
  @OnTopic('deletions')
  handleDeletions(batch: StageBatch<KlaviyoDeletionRecord>): Promise<StageResult> {
    return this.handleRecords(batch, (records) => this.deliverer.deletions.deliver(records, this.priority()));
  }

  private priority(): Priority {
    return this.mode === 'live' ? 'live' : 'backfill';
  }

  /**
   * One partition's batch (decoded): skip deleted people, deliver, and say per record:
   * delivered, skipped, or dead-lettered with Klaviyo's answer.
   */
  private async handleRecords<R extends KlaviyoRecord>(
    batch: StageBatch<R>,
    deliver: (records: R[], gaveUp: AbortSignal) => Promise<DeliveryResult[]>,
  ): Promise<StageResult> {
    const outcomes: RecordOutcome[] = [];
    const records: R[] = [];
    const at: number[] = [];
    for (const { value: r } of batch.records) {
      const subject = outcomeSubject(r); // for klaviyo.outcomes.v1, without decoding the record again
      if (r.kind === 'deletion') this.deletedContacts!.add([r.intercom_contact_id]);
      else if (r.intercom_contact_id && this.deletedContacts!.has(r.intercom_contact_id)) {
        outcomes.push({ kind: 'skip', reason: 'contact_deleted', subject });
        continue;
      }
      at.push(outcomes.length);
      outcomes.push({ kind: 'done', reason: 'delivered', subject });
      records.push(r);
    }
    const results =
      records.length === 0 ? [] : await this.unlessRebalancing(batch, (gaveUp) => deliver(records, gaveUp));
    // shutting down, or the group rebalances: nothing committed, the batch is read again (by its next owner)
    if (!results || !batch.isRunning()) return { outcomes: [], aborted: true };
    results.forEach((r, i) => {
      const subject = outcomes[at[i]].subject;
      if (r.status === 'rejected')
        outcomes[at[i]] = { kind: 'dead_letter', error: new KlaviyoRejectedError(r), subject };
      else if (r.notes?.length) outcomes[at[i]] = { kind: 'done', reason: 'delivered', notes: r.notes, subject };
    });
    return { outcomes };
  }

  /**
   * `work`, or undefined as soon as the coordinator answers a heartbeat with a rebalance (or the
   * partition is revoked): the offset commit would be refused now (and the stage loop would
   * deliver the slice again), the replica must rejoin within the rebalance timeout, and its
   * budget share is about to change, so the batch gives up at once. Its events still queued are
   * withdrawn (the `gaveUp` signal): only the partition's next owner sends them. What was already
   * on the wire still goes; Klaviyo keeps one copy per unique_id.
   */
  private async unlessRebalancing<T>(
    batch: StageBatch<unknown>,
    work: (gaveUp: AbortSignal) => Promise<T>,
  ): Promise<T | undefined> {
    const gaveUp = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const rebalance = new Promise<undefined>((resolve) => {
      timer = setInterval(() => {
        if (!batch.isRunning()) resolve(undefined);
        batch.heartbeat().catch((e: { type?: string }) => {
          if (e?.type && REBALANCE_ERRORS.has(e.type)) resolve(undefined);
        });
      }, REBALANCE_CHECK_MS);
    });
    const working = work(gaveUp.signal);
    try {
      const done = await Promise.race([working, rebalance]);
      if (done === undefined)
        gaveUp.abort(
          new Error(`${batch.topic}[${batch.partition}] gave up: the group rebalances or the partition was revoked`),
        );
      return done;
    } finally {
      clearInterval(timer);
      working.catch(() => undefined); // given up on: its outcome no longer matters
    }
  }

  /** Stops delivering and consuming, the budget share and the tombstone follower, and the producer's connection (once). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    await this.runtime.stop();
    await this.budgetShare.stop();
    await this.tombstones?.stop();
    await this.deletedContacts?.close();
    await this.producer.disconnect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
