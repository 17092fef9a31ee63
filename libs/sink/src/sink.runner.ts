import { Logger } from '@nestjs/common';
import { PartitionAssigners, type Kafka, type Producer } from 'kafkajs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '@iks/config';
import type { KlaviyoDeletionRecord, KlaviyoEventRecord, KlaviyoProfileRecord } from '@iks/domain';
import {
  AvroCodec, createKafka, createProducer, decodeOrPoison, followTopic, metricOnce, prepareStage, RecordDecodeError, serdes, StageRuntime, topicName,
  type HandlerLookup, type RecordOutcome, type ThrowAwayConsumer, type StageBatch, type StageConsumerSpec, type StageHealth, type StageResult, type StageTally,
} from '@iks/kafka';
import { outcomeSubject } from './outcome-subject';
import { createKlaviyoDelivery, KlaviyoHttpClient, RateBudget, type DeliveryResult, type EndpointGroup, type KlaviyoDelivery, type Priority } from '@iks/klaviyo';
import { BudgetShare } from './budget-share';

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

/** Heartbeat answers that mean the member must rejoin its group (kafkajs isRebalancing, and a dropped member). */
const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR_FOR_GROUP', 'UNKNOWN_MEMBER_ID']);
/** How often a batch waiting for delivery asks the coordinator (kafkajs sends at most one heartbeat per heartbeatInterval). */
const REBALANCE_CHECK_MS = 1000;

/** The @EventPattern of each topic the sink consumes. */
export const SINK_PATTERNS = { events: 'klaviyo.events', profiles: 'klaviyo.profiles', deletions: 'klaviyo.deletions' } as const;

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
  readonly deliverer: KlaviyoDelivery;
  private tombstones?: ThrowAwayConsumer;
  /** Intercom contacts with a deletion request: their profiles and events are never sent again (replays included). */
  private readonly deletedContacts = new Set<string>();
  private readonly abort = new AbortController();
  private readonly topics: { events: string; profiles: string; deletions: string };
  private readonly runtime: StageRuntime;
  readonly retries: Counter<'operation'>;
  /** 1 while Klaviyo refuses the API key (401/403): delivery waits and retries, nothing is dead-lettered. */
  private readonly keyRefused: Gauge;
  private mode: 'live' | 'replay' = 'live';
  /** This replica's share of the account's rate limits among the group's replicas (set by specs()). */
  budgetShare?: BudgetShare;
  /** Klaviyo requests retried (also iks_sink_klaviyo_retries_total by operation). */
  retryCount = 0;

  constructor(private readonly config: Config, budget?: RateBudget, registry: Registry = new Registry(), onFatal?: (e: unknown) => void) {
    this.kafka = createKafka(config.kafka);
    this.producer = createProducer(this.kafka);
    this.codec = new AvroCodec(config.kafka);
    this.runtime = new StageRuntime({
      stage: 'sink', kafka: this.kafka, producer: this.producer, codec: this.codec, registry,
      stallReadyMs: config.stage.stallReadyMs, stallLiveMs: config.stage.stallLiveMs, onFatal,
    });
    this.retries = metricOnce(registry, 'iks_sink_klaviyo_retries_total', () => new Counter({
      name: 'iks_sink_klaviyo_retries_total', help: 'Klaviyo requests retried, by operation.', labelNames: ['operation'], registers: [registry],
    }));
    const requestSeconds = metricOnce(registry, 'iks_sink_klaviyo_request_seconds', () => new Histogram({
      name: 'iks_sink_klaviyo_request_seconds', help: 'Klaviyo HTTP request latency per attempt (retries included), by operation and status ("network" when no answer arrived).',
      labelNames: ['operation', 'status'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry],
    }));
    this.keyRefused = metricOnce(registry, 'iks_sink_klaviyo_key_refused', () => new Gauge({
      name: 'iks_sink_klaviyo_key_refused', help: '1 while Klaviyo answers 401/403 to the API key (an alert: delivery is paused and retried).', registers: [registry],
    }));
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
      onRetry: (operation) => {
        this.retries.inc({ operation });
        this.retryCount++;
      },
      onSystemic: () => this.keyRefused.set(1),
      onRecovered: () => this.keyRefused.set(0),
      onResponse: (operation, status, seconds) => requestSeconds.observe({ operation, status: String(status) }, seconds),
    });
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

  specs(opts: SinkRunOptions = {}): StageConsumerSpec[] {
    const which = opts.topics ?? ['events', 'profiles', 'deletions'];
    const groupId = opts.groupId ?? this.config.sink.groupId;
    // The replicas of the group share the account's limits, each endpoint group by the
    // partitions of the topic that feeds it (budget-share.ts).
    const fed: Record<'events' | 'profiles' | 'deletions', EndpointGroup[]> = {
      events: ['events-bulk', 'events'], profiles: ['profile-import'], deletions: ['data-privacy-deletion'],
    };
    const groupTopics: Partial<Record<EndpointGroup, string>> = {};
    for (const t of which) for (const g of fed[t]) groupTopics[g] = this.topics[t];
    const share = new BudgetShare(this.deliverer.caller.budget, this.kafka, groupId, groupTopics);
    this.budgetShare = share;
    return [{
      groupId,
      topics: which.map((t) => ({ topic: this.topics[t], pattern: SINK_PATTERNS[t] })),
      // large fetches so that bulk requests fill up to Klaviyo's 1,000 events; round robin as well, so a
      // member without budget shares (an older sink during a rolling upgrade) can still join the group
      consumer: { maxBytesPerPartition: 4 * 1024 * 1024, maxBytes: 16 * 1024 * 1024, partitionAssigners: [share.assigner, PartitionAssigners.roundRobin] },
      onAssignment: (assignment) => share.onAssignment(assignment),
      // every partition of the three topics at once, so their events can share bulk requests
      partitionsConsumedConcurrently: 3 * this.config.kafka.partitions,
      chunkSize: Number.MAX_SAFE_INTEGER,
      seek: opts.seek, until: opts.until, beforeCommit: opts.beforeCommit,
      // what happened to each record, for the console (klaviyo.outcomes.v1)
      outcomesTopic: topicName('outcomes', this.config.kafka.topicPrefix),
      describeRecord: async (topic, value) => outcomeSubject(await this.decode(topic, value)),
    }];
  }

  /** The sink's own handler (every topic has the same one), for a run without Nest. */
  readonly handlerFor: HandlerLookup = (pattern) =>
    Object.values(SINK_PATTERNS).includes(pattern as never) ? (b) => this.handleRecords(b) : undefined;

  async start(opts: SinkRunOptions = {}, handlerFor: HandlerLookup = this.handlerFor): Promise<void> {
    const specs = this.specs(opts);
    void this.budgetShare?.connect().catch(() => undefined); // retried when the group is read
    await prepareStage(this.kafka, this.config.kafka, this.codec, this.producer);
    const groupId = opts.groupId ?? this.config.sink.groupId;
    this.mode = opts.mode ?? 'live';
    // MAPPING.md: a deleted person is not brought back by a later replay (or a late upsert).
    this.tombstones = await followTopic(this.kafka, this.topics.deletions, `${groupId}.tombstones`, async (m) => {
      const d = await decodeOrPoison(this.codec, m.value).catch(() => undefined); // a poison record is the main consumer's to dead-letter
      if (d) this.deletedContacts.add(serdes.deletionFromAvro(d).intercom_contact_id);
    });
    await this.runtime.start(specs, handlerFor);
    this.logger.log(`delivering ${(opts.topics ?? ['events', 'profiles', 'deletions']).join(', ')} to ${this.config.klaviyo.baseUrl} (group ${groupId}, ${this.mode})`);
  }

  /**
   * One partition's batch: decode, skip deleted people, deliver (events of every partition
   * share bulk requests), and say per record: delivered, skipped, or dead-lettered with
   * Klaviyo's answer.
   */
  async handleRecords(batch: StageBatch): Promise<StageResult> {
    const outcomes: RecordOutcome[] = [];
    const records: Array<KlaviyoEventRecord | KlaviyoProfileRecord | KlaviyoDeletionRecord> = [];
    const at: number[] = [];
    for (const m of batch.messages) {
      try {
        const r = await this.decode(batch.topic, m.value);
        const subject = outcomeSubject(r); // for klaviyo.outcomes.v1, without decoding the record again
        if (r.kind === 'deletion') this.deletedContacts.add(r.intercom_contact_id);
        else if (r.intercom_contact_id && this.deletedContacts.has(r.intercom_contact_id)) {
          outcomes.push({ kind: 'skip', reason: 'contact_deleted', subject });
          continue;
        }
        at.push(outcomes.length);
        outcomes.push({ kind: 'done', reason: 'delivered', subject });
        records.push(r);
      } catch (e) {
        if (!(e instanceof RecordDecodeError)) throw e;
        outcomes.push({ kind: 'dead_letter', error: e });
      }
    }
    const results = await this.unlessRebalancing(batch, (gaveUp) => this.deliver(batch.topic, records, this.mode, gaveUp));
    // shutting down, or the group rebalances: nothing committed, the batch is read again (by its next owner)
    if (!results || !batch.isRunning()) return { outcomes: [], aborted: true };
    results.forEach((r, i) => {
      const subject = outcomes[at[i]].subject;
      if (r.status === 'rejected') outcomes[at[i]] = { kind: 'dead_letter', error: new KlaviyoRejectedError(r), subject };
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
  private async unlessRebalancing<T>(batch: StageBatch, work: (gaveUp: AbortSignal) => Promise<T>): Promise<T | undefined> {
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
      if (done === undefined) gaveUp.abort(new Error(`${batch.topic}[${batch.partition}] gave up: the group rebalances or the partition was revoked`));
      return done;
    } finally {
      clearInterval(timer);
      working.catch(() => undefined); // given up on: its outcome no longer matters
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

  private async deliver(topic: string, records: any[], mode: 'live' | 'replay', gaveUp: AbortSignal): Promise<DeliveryResult[]> {
    if (records.length === 0) return [];
    if (topic === this.topics.events) {
      // Events of every partition share bulk requests (cut when the rate budget grants one);
      // live events go first, backfilled and replayed ones yield.
      return Promise.all(records.map((r: KlaviyoEventRecord) => this.deliverer.events.submit(r, mode === 'live' && !r.backfill ? 'live' : 'backfill', gaveUp)));
    }
    const priority: Priority = mode === 'live' ? 'live' : 'backfill';
    if (topic === this.topics.profiles) return this.deliverer.profiles.deliver(records, priority);
    return this.deliverer.deletions.deliver(records, priority);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.runtime.stop();
    await this.budgetShare?.stop();
    await this.tombstones?.stop();
    await this.producer.disconnect().catch(() => undefined);
  }
}
