import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { PartitionAssigners, type Kafka, type KafkaMessage, type Message, type Producer } from 'kafkajs';
import { CONFIG, type Config } from '@iks/config';
import {
  connectionOf,
  DEFAULT_CONNECTION_ID,
  type DeadLetter,
  type KlaviyoDeletionRecord,
  type KlaviyoEventRecord,
  type KlaviyoProfileRecord,
  type KlaviyoRecord,
} from '@iks/domain';
import {
  AvroCodec,
  chunksByBytes,
  deadLetterToAvro,
  KAFKA,
  prepareStage,
  PRODUCER,
  RecordDecodeError,
  topic,
  topicName,
  type Topic,
  type TopicKey,
} from '@iks/kafka';
import {
  OnTopic,
  StageHandlers,
  StageRuntime,
  type AnyStageTopic,
  type OutcomeSubject,
  type RecordOutcome,
  type StageBatch,
  type StageConsumerSpec,
  type StageHealth,
  type StageResult,
  type StageTally,
} from '@iks/stage';
import { ErasedSubjectError, openPersonal, subjectOf, SubjectKeys, unclaimedSubject } from '@iks/erasure';
import { ANY_WORKSPACE } from '@iks/connections';
import { type DeliveryResult, type KlaviyoDelivery, type Priority } from '@iks/klaviyo';
import { outcomeSubject } from './outcome-subject';
import { BudgetShare } from './budget-share';
import { deletedKey, parkedPartitionOf } from './connection-keys';
import { fetchHoldMs } from './fetch-hold';
import { DeletedContacts, followDeletions, type DeletionsFollower } from './deleted-contacts';
import { KlaviyoLanes, type ConnectionHealth, type KlaviyoLane } from './klaviyo-lanes';
import { parkedEnvelope, reparked, type ParkReason } from './parked-envelope';
import { ParkedProgress } from './parked-progress';
import type { Route } from './routing';
import { SinkMetrics } from './sink-metrics';
import { SINK_ABORT, SINK_RUN } from './sink.tokens';

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
  /**
   * Consume klaviyo.parked.v1 as well (re-offer parked records once their account answers).
   * Default: only the live sink (no groupId given); a replay parks into the topic and leaves
   * the re-offering to the live sink.
   */
  readonly parked?: boolean;
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
/** How often the parked partitions' progress is read while some connection's profiles wait (drain-gate.ts). */
const PROGRESS_EVERY_MS = 1000;
/** A parked slice with nothing deliverable waits for the earliest probe, at most this long (no busy loop of re-parks). */
const PARKED_IDLE_MAX_MS = 5000;
const PARKED_IDLE_MIN_MS = 200;

/**
 * Records fetched and not yet settled, beyond which the next fetch waits: three full bulk requests
 * (one on the wire, one granted, one filling) keep every account's requests full under a backlog.
 */
export const MAX_RECORDS_IN_FLIGHT = 3000;

/** The topics a run delivers (default all three). */
export function sinkTopicsOf(run: SinkRunOptions): readonly SinkTopic[] {
  return run.topics ?? SINK_TOPICS;
}

/** Whether a run consumes the parked topic (the live sink). */
export function consumesParked(run: SinkRunOptions): boolean {
  return run.parked ?? (run.groupId === undefined && run.topics === undefined && (run.mode ?? 'live') === 'live');
}

/** One record of a slice on its way: what it is, which connection, and what became of it. */
interface Item {
  readonly message: KafkaMessage;
  /** The Klaviyo record (decoded from the envelope for a parked one). */
  readonly record: KlaviyoRecord;
  readonly connectionId: string;
  readonly subject: OutcomeSubject;
  /** Where the record was consumed from first (its topic and partition), for the envelope. */
  readonly source: { readonly topic: string; readonly partition: number; readonly message: KafkaMessage };
  /** The envelope it came in, when it was parked before. */
  readonly envelope?: DeadLetter;
}

type Park = { readonly at: number; readonly reason: ParkReason; readonly detail: string };
/** A record's outcome, once decided. */
type Slot = RecordOutcome | undefined;

/**
 * Kafka Connect's sink contract: deliver, then commit. Each batch of a partition is decoded,
 * delivered to Klaviyo (bulk for events), refused records go to `<topic>.dlq` with Klaviyo's
 * error, and only then is the offset committed. A crash re-sends at most the uncommitted
 * records; their deterministic unique_id makes Klaviyo drop the repeat.
 *
 * Connections (docs/CONNECTIONS.md, "Isolation in the sink"): each record goes through its
 * connection's lane (its credential, its account's rate budget, its circuit). A record whose
 * account cannot take it now (circuit open, connection paused) is parked in klaviyo.parked.v1
 * (keyed and partitioned by connection) and its offset committed, so the other accounts on the
 * same partitions keep flowing; the same group consumes the parked topic and re-offers each
 * record once its account answers a probe, parking again what still cannot go, in order.
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
    readonly parked: Topic<'parked'>;
  };
  private readonly mode: 'live' | 'replay';
  private stopped = false;
  private progressTimer?: NodeJS.Timeout;
  private progressFailing = false;
  /** Per parked partition: connection → offset of its first copy parked again in this pass (later records of it go behind). */
  private readonly reparkedFrom = new Map<number, Map<string, bigint>>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(PRODUCER) private readonly producer: Producer,
    private readonly codec: AvroCodec,
    /** One lane per connection: its Klaviyo client, its account's budget and its circuit. */
    readonly lanes: KlaviyoLanes,
    /** This replica's share of each account's rate limits among the group's replicas. */
    readonly budgetShare: BudgetShare,
    private readonly progress: ParkedProgress,
    private readonly metrics: SinkMetrics,
    private readonly runtime: StageRuntime,
    private readonly handlers: StageHandlers,
    @Inject(SINK_ABORT) private readonly abort: AbortController,
    @Inject(SINK_RUN) private readonly run: SinkRunOptions,
    /** People's data keys: records are opened with them; a deletion Klaviyo accepted destroys its person's (docs/ERASURE.md). */
    private readonly keys: SubjectKeys,
  ) {
    const p = config.kafka.topicPrefix;
    this.topics = {
      events: topic('events', p),
      profiles: topic('profiles', p),
      deletions: topic('deletions', p),
      parked: topic('parked', p),
    };
    this.mode = run.mode ?? 'live';
  }

  /** The default connection's delivery (benches and tests of a single-account sink). */
  get deliverer(): KlaviyoDelivery {
    const lane = this.lanes.lane(DEFAULT_CONNECTION_ID);
    if (!lane) throw new Error('the sink has no default connection with a Klaviyo credential');
    return lane.delivery;
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

  /** How every connection stands on this replica (readiness, the console). */
  connections(): ConnectionHealth[] {
    const list = this.lanes.health();
    let refused = false;
    for (const c of list) {
      const state =
        c.status !== 'active' ? c.status : c.circuit === null && c.reason ? 'no_credential' : (c.circuit ?? 'closed');
      this.metrics.setConnectionState(c.connection, c.account, state);
      if (c.reason && /refuses the credential/.test(c.reason)) refused = true;
    }
    this.metrics.keyRefused.set(refused ? 1 : 0);
    return list;
  }

  /**
   * The stage's health. One unhealthy connection does not make the sink unready (its records are
   * parked, the others flow); a sink none of whose active connections can deliver is not ready,
   * with the reasons folded into the consumers' failure (it delivers nothing at all).
   */
  health(): StageHealth {
    const h = this.runtime.health();
    const none = this.cannotDeliver();
    if (none === null) return h;
    return { ...h, ready: false, consumers: h.consumers.map((c) => ({ ...c, failing: c.failing ?? none })) };
  }

  readiness() {
    const none = this.cannotDeliver();
    const connections = this.connections();
    return {
      consumers: this.runtime.readinessCheck(),
      klaviyo: {
        up: none === null,
        detail: {
          ...(none === null ? {} : { message: none }),
          unhealthy: connections.filter((c) => !c.healthy).map((c) => c.connection),
          connections,
        },
      },
    };
  }

  /** Why nothing at all can be delivered (every active connection's account unavailable), or null. */
  private cannotDeliver(): string | null {
    const active = this.connections().filter((c) => c.status === 'active');
    if (active.length === 0 || active.some((c) => c.healthy && c.reason === null)) return null;
    return `no Klaviyo account takes requests: ${active.map((c) => `${c.connection}: ${c.reason ?? 'unavailable'}`).join('; ')}; records are parked and probed`;
  }

  liveness() {
    return { consumers: this.runtime.livenessCheck() };
  }

  /** The consumer group of this run (SINK_RUN). The replicas share each account's limits through the BudgetShare's assigner. */
  specs(): StageConsumerSpec[] {
    const opts = this.run;
    const share = this.budgetShare;
    // what happened to each record, for the console (klaviyo.outcomes.v1): outcomeSubject says what a record was
    const consumed: Readonly<Record<SinkTopic, AnyStageTopic>> = {
      events: { topic: this.topics.events, describe: outcomeSubject },
      profiles: { topic: this.topics.profiles, describe: outcomeSubject },
      deletions: { topic: this.topics.deletions, describe: outcomeSubject },
    };
    const topics: AnyStageTopic[] = sinkTopicsOf(opts).map((t) => consumed[t]);
    if (consumesParked(opts)) topics.push({ topic: this.topics.parked });
    return [
      {
        groupId: opts.groupId ?? this.config.sink.groupId,
        topics,
        // large fetches so that bulk requests fill up to Klaviyo's 1,000 events; round robin as well, so a
        // member without budget shares (an older sink during a rolling upgrade) can still join the group
        consumer: {
          maxBytesPerPartition: 4 * 1024 * 1024,
          maxBytes: 16 * 1024 * 1024,
          partitionAssigners: [share.assigner, PartitionAssigners.roundRobin],
        },
        // events are fetched while earlier ones wait for their bulk request (fetch-hold.ts says when)
        pipeline: { maxRecordsInFlight: MAX_RECORDS_IN_FLIGHT },
        onAssignment: (assignment) => {
          // a parked partition taken over: what its last owner parked again is unknown here
          this.reparkedFrom.clear();
          share.onAssignment(assignment);
        },
        // every partition of the topics at once, so their events can share bulk requests
        partitionsConsumedConcurrently: topics.length * this.config.kafka.partitions,
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
    await this.keys.start();
    await this.progress.start();
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
    this.progressTimer = setInterval(() => void this.followProgress(), PROGRESS_EVERY_MS);
    await this.runtime.start(specs, handlers);
    const connections = this.lanes.directory.all();
    this.logger.log(
      `delivering ${sinkTopicsOf(opts).join(', ')}${consumesParked(opts) ? ' and parked records' : ''} for ${connections.length} connection(s) ` +
        `(${connections.map((c) => `${c.id} → ${c.klaviyo.apiBaseUrl}`).join(', ')}; group ${groupId}, ${this.mode})`,
    );
  }

  /** Ends the waits of connections whose parked records the group has passed (drain-gate.ts). */
  private async followProgress(): Promise<void> {
    if (this.lanes.gate.waiting.length === 0 || this.stopped) return;
    try {
      const ended = this.lanes.gate.update(await this.progress.refresh());
      for (const id of ended)
        this.logger.log(`connection ${id}: its parked records are passed, its profiles go directly again`);
      this.progressFailing = false;
    } catch (e) {
      if (!this.progressFailing)
        this.logger.warn(`cannot read the parked topic's progress now: ${(e as Error).message}`);
      this.progressFailing = true;
    }
  }

  /** klaviyo.events.v1: events of every partition share bulk requests per account (cut when its rate budget grants one); live events go first, backfilled and replayed ones yield. */
  @OnTopic('events')
  handleEvents(batch: StageBatch<KlaviyoEventRecord>): Promise<StageResult> {
    return this.handleSource(batch);
  }

  /** klaviyo.profiles.v1: Create or Update Profile. */
  @OnTopic('profiles')
  handleProfiles(batch: StageBatch<KlaviyoProfileRecord>): Promise<StageResult> {
    return this.handleSource(batch);
  }

  /** klaviyo.deletions.v1: data privacy deletion jobs. */
  @OnTopic('deletions')
  handleDeletions(batch: StageBatch<KlaviyoDeletionRecord>): Promise<StageResult> {
    return this.handleSource(batch);
  }

  /**
   * klaviyo.parked.v1: records parked for their account, re-offered in order. A record of an
   * account still unavailable (or behind one parked again in this pass) is parked again at the
   * end of the partition; a slice with nothing deliverable first waits for the earliest probe.
   */
  @OnTopic('parked')
  async handleParked(batch: StageBatch<DeadLetter>): Promise<StageResult> {
    const outcomes: Slot[] = new Array<Slot>(batch.records.length).fill(undefined);
    const items: Array<Item | undefined> = [];
    for (const [i, { message, value: envelope }] of batch.records.entries()) {
      const key = SINK_TOPICS.find((t) => this.topics[t].name === envelope.original_topic);
      if (!key) {
        outcomes[i] = {
          kind: 'dead_letter',
          error: new RecordDecodeError(
            `a parked record of ${envelope.original_topic}, which the sink does not deliver`,
          ),
        };
        items.push(undefined);
        continue;
      }
      let sealed: KlaviyoRecord;
      try {
        sealed = await this.codec.decodeAs(key as TopicKey & SinkTopic, envelope.value);
      } catch (e) {
        if (!(e instanceof RecordDecodeError)) throw e; // the registry cannot answer now: the slice is retried
        outcomes[i] = { kind: 'dead_letter', error: e };
        items.push(undefined);
        continue;
      }
      const record = await this.opened(sealed, outcomes, i);
      if (!record) {
        items.push(undefined);
        continue;
      }
      const original = {
        ...message,
        key: envelope.key,
        value: envelope.value,
        offset: envelope.offset,
        headers: Object.fromEntries(envelope.headers.map((h) => [h.key, h.value])),
      } as KafkaMessage;
      items.push({
        message,
        record,
        connectionId: connectionOf(record),
        subject: outcomeSubject(sealed),
        source: { topic: envelope.original_topic, partition: envelope.partition, message: original },
        envelope,
      });
    }
    return this.settle(batch, items, outcomes, 'parked');
  }

  private priorityOf(r: KlaviyoRecord): Priority {
    return this.mode === 'live' && !(r.kind !== 'deletion' && r.backfill) ? 'live' : 'backfill';
  }

  /** A slice of a source topic (events, profiles or deletions), decoded; each record opened (an erased person's: skipped). */
  private async handleSource(batch: StageBatch<KlaviyoRecord>): Promise<StageResult> {
    const outcomes: Slot[] = new Array<Slot>(batch.records.length).fill(undefined);
    const items: Array<Item | undefined> = [];
    for (const [at, { message, value: sealed }] of batch.records.entries()) {
      const record = await this.opened(sealed, outcomes, at);
      items.push(
        record && {
          message,
          record,
          connectionId: connectionOf(record),
          // for klaviyo.outcomes.v1, without decoding the record again: its personal part stays sealed
          subject: outcomeSubject(sealed),
          source: { topic: batch.topic, partition: batch.partition, message },
        },
      );
    }
    return this.settle(batch, items, outcomes, 'source');
  }

  /**
   * The record with its personal fields opened (docs/ERASURE.md). A person erased (her keys
   * destroyed once Klaviyo accepted her deletion) is the outcome `skip` / `erased`: not sent, not
   * a dead letter, committed, so a replay from the beginning neither fails nor brings her back.
   */
  private async opened(sealed: KlaviyoRecord, outcomes: Slot[], at: number): Promise<KlaviyoRecord | undefined> {
    try {
      return await openPersonal(this.keys, sealed);
    } catch (e) {
      if (!(e instanceof ErasedSubjectError)) throw e; // altered, or the keys' topic is behind: the slice is retried
      outcomes[at] = { kind: 'skip', reason: 'erased', subject: outcomeSubject(sealed) };
      return undefined;
    }
  }

  /**
   * One slice: skip deleted people, route each record by its connection (deliver, probe, park,
   * dead letter), deliver per lane, park what could not go, and say per record what became of it.
   */
  private async settle(
    batch: StageBatch<unknown>,
    items: ReadonlyArray<Item | undefined>,
    outcomes: Slot[],
    consumer: 'source' | 'parked',
  ): Promise<StageResult> {
    const order = consumer === 'parked' ? this.reorderOf(batch.partition) : undefined;
    let routes = this.routeAll(items, outcomes, consumer, order);
    if (consumer === 'parked' && routes.deliver.size === 0 && routes.probes.size === 0 && routes.park.length > 0) {
      // nothing can go now: wait for the earliest probe instead of parking the same records again at once
      const due = Math.min(
        ...routes.park.map((p) => {
          const c = this.lanes.lane(items[p.at]!.connectionId)?.circuit;
          // a paused connection has no probe to wait for: the longest wait
          return c?.state === 'open' ? c.retryAt : Number.POSITIVE_INFINITY;
        }),
        Date.now() + PARKED_IDLE_MAX_MS,
      );
      await this.sleepWhileRunning(batch, Math.max(PARKED_IDLE_MIN_MS, Math.min(PARKED_IDLE_MAX_MS, due - Date.now())));
      if (!batch.isRunning()) return { outcomes: [], aborted: true };
      for (const p of routes.park) outcomes[p.at] = undefined;
      routes = this.routeAll(items, outcomes, consumer, order);
    }
    const { deliver, probes } = routes;
    const park = [...routes.park];
    // probes and every lane's records at once; a lane's deletions after its events and profiles
    const probe = (lane: KlaviyoLane, at: number, gaveUp: AbortSignal) =>
      this.deliverLane(lane, items, [at], gaveUp).finally(() => lane.circuit.probeAbandoned()); // no-op once answered
    const delivering = this.unlessRebalancing(batch, (gaveUp) =>
      Promise.all(
        [...probes.entries()]
          .map(([lane, at]) => probe(lane, at, gaveUp))
          .concat([...deliver.entries()].map(([lane, ats]) => this.deliverLane(lane, items, ats, gaveUp))),
      ),
    );
    // only events on their way (queued for their bulk request, where order does not matter): the
    // consumer fetches the next ones meanwhile, just before the grant after theirs (fetch-hold.ts);
    // profiles and deletions keep their order per person: their slice is answered first
    const released =
      consumer === 'source' && onlyEvents(items, deliver, probes)
        ? this.releaseBeforeNextGrant(batch, items, deliver)
        : undefined;
    const delivered = await delivering;
    // shutting down, or the group rebalances: nothing committed, the slice is read again (by its next owner)
    if (!delivered || !batch.isRunning()) return { outcomes: [], aborted: true };
    const accepted: KlaviyoDeletionRecord[] = [];
    for (const results of delivered)
      for (const [at, r] of results) {
        const item = items[at]!;
        if (r.status === 'rejected')
          outcomes[at] = { kind: 'dead_letter', error: new KlaviyoRejectedError(r), subject: item.subject };
        else if (r.status === 'unavailable') park.push({ at, reason: 'account_unavailable', detail: r.reason });
        else {
          // requestAt: copies from two slices merged into one request publish the same outcome_at (one entry at Klaviyo)
          outcomes[at] = {
            kind: 'done',
            reason: 'delivered',
            notes: r.notes,
            subject: item.subject,
            outcomeAt: r.requestAt,
          };
          if (item.record.kind === 'deletion') accepted.push(item.record);
        }
      }
    // Klaviyo accepted these deletions: now, and only now, their people's keys are destroyed (before
    // the commit; a failure retries the slice, and Klaviyo is asked again)
    await this.eraseAccepted(accepted);
    if (park.length > 0) await this.park(batch.partition, items, park, consumer, order);
    for (const p of park) outcomes[p.at] = { kind: 'pending', reason: 'parked', subject: items[p.at]!.subject };
    // not before the release: a slice answered sooner would let the consumer fetch at once
    await released;
    const decided: RecordOutcome[] = [];
    for (const [at, o] of outcomes.entries()) {
      if (!o) throw new Error(`sink: no outcome for record ${at} of ${batch.topic}[${batch.partition}]`);
      const item = items[at];
      // delivered, skipped or dead-lettered: out of the parked topic for good
      if (consumer === 'parked' && o.kind !== 'pending' && item) this.unparked(item);
      // a parked record's dead letter is its original's, in the original topic's .dlq (reprocessed from there)
      if (o.kind === 'dead_letter' && item?.envelope)
        decided.push({
          ...o,
          original: item.source,
          attempts: item.envelope.attempts + 1,
          firstFailureAt: item.envelope.first_failure_at,
        });
      else decided.push(o);
    }
    return { outcomes: decided };
  }

  /**
   * Releases the slice's batch (the consumer fetches again) FETCH_LEAD_MS before the bulk grant
   * after the one its events will ride, of the lanes it delivers to (fetch-hold.ts).
   */
  private async releaseBeforeNextGrant(
    batch: StageBatch<unknown>,
    items: ReadonlyArray<Item | undefined>,
    deliver: ReadonlyMap<KlaviyoLane, readonly number[]>,
  ): Promise<void> {
    const events = [...deliver.values()].reduce(
      (n, ats) => n + ats.filter((at) => items[at]?.record.kind === 'event').length,
      0,
    );
    const budgets = [...deliver.entries()]
      .filter(([, ats]) => ats.some((at) => items[at]?.record.kind === 'event'))
      .map(([lane]) => lane.delivery.caller.budget);
    const wait = fetchHoldMs(budgets, events);
    if (wait > 0) await this.sleepWhileRunning(batch, wait);
    batch.release();
  }

  /** Destroys the keys of each person whose deletion Klaviyo accepted (tombstones and marker, acks all). */
  private async eraseAccepted(deletions: readonly KlaviyoDeletionRecord[]): Promise<void> {
    for (const d of deletions) {
      const subject = subjectOf(d);
      if (!subject) continue;
      // and what ingest sealed for her while her workspace had no connection (the unclaimed topic)
      const appId = this.lanes.directory.get(subject.connectionId)?.intercom.appId;
      const unclaimed = appId && appId !== ANY_WORKSPACE ? [unclaimedSubject(appId, subject.contactId)] : [];
      const destroyed = await this.keys.erase(subject, ...unclaimed);
      this.logger.log(
        `connection ${subject.connectionId}: contact ${subject.contactId} erased after Klaviyo accepted the deletion (${destroyed} key(s) destroyed here)`,
      );
    }
  }

  /** The routes of a slice: per lane the records to deliver, one probe per lane whose probe is due, the records to park. */
  private routeAll(
    items: ReadonlyArray<Item | undefined>,
    outcomes: Slot[],
    consumer: 'source' | 'parked',
    order: Map<string, bigint> | undefined,
  ): { deliver: Map<KlaviyoLane, number[]>; probes: Map<KlaviyoLane, number>; park: Park[] } {
    const deliver = new Map<KlaviyoLane, number[]>();
    const probes = new Map<KlaviyoLane, number>();
    const park: Park[] = [];
    items.forEach((item, at) => {
      if (!item || outcomes[at]) return;
      const r = item.record;
      const cid = item.connectionId;
      if (r.kind === 'deletion') this.deletedContacts!.add([deletedKey({ ...r, connection_id: cid })]);
      else if (
        r.intercom_contact_id &&
        this.deletedContacts!.has(deletedKey({ connection_id: cid, intercom_contact_id: r.intercom_contact_id }))
      ) {
        outcomes[at] = { kind: 'skip', reason: 'contact_deleted', subject: item.subject };
        return;
      }
      // behind a copy of this connection parked again in this pass: parked again too (order)
      const behind = order?.get(cid);
      if (behind !== undefined) {
        if (BigInt(item.message.offset) < behind) {
          park.push({ at, reason: 'keeps_order', detail: `connection "${cid}": behind its records parked again` });
          return;
        }
        order!.delete(cid);
      }
      const { route, lane } = this.lanes.route(cid, r.kind, consumer);
      this.follow(route, lane, item, at, outcomes, deliver, probes, park);
    });
    return { deliver, probes, park };
  }

  private follow(
    route: Route,
    lane: KlaviyoLane | undefined,
    item: Item,
    at: number,
    outcomes: Slot[],
    deliver: Map<KlaviyoLane, number[]>,
    probes: Map<KlaviyoLane, number>,
    park: Park[],
  ): void {
    switch (route.kind) {
      case 'dead_letter':
        outcomes[at] = { kind: 'dead_letter', error: route.error, subject: item.subject };
        return;
      case 'park':
        park.push({ at, reason: route.reason, detail: route.detail });
        return;
      case 'probe':
        // the first record of the lane in the slice goes alone; the rest wait for its answer in the parked topic
        if (lane && lane.circuit.beginProbe()) {
          this.logger.log(`connection ${lane.connectionId}: probing its Klaviyo account with one request`);
          probes.set(lane, at);
        } else park.push({ at, reason: 'account_unavailable', detail: lane?.circuit.reason ?? 'probing' });
        return;
      case 'deliver': {
        const list = deliver.get(lane!);
        if (list) list.push(at);
        else deliver.set(lane!, [at]);
      }
    }
  }

  /** One lane's records: events in bulk, profiles in order per person, deletions after both. */
  private async deliverLane(
    lane: KlaviyoLane,
    items: ReadonlyArray<Item | undefined>,
    ats: readonly number[],
    gaveUp: AbortSignal,
  ): Promise<Array<[number, DeliveryResult]>> {
    const d = lane.delivery;
    const of = <K extends KlaviyoRecord['kind']>(kind: K) =>
      ats.filter((at) => items[at]!.record.kind === kind) as number[];
    const events = of('event');
    const profiles = of('profile');
    const deletions = of('deletion');
    const rec = <R extends KlaviyoRecord>(at: number) => items[at]!.record as R;
    const [ev, pr] = await Promise.all([
      Promise.all(events.map((at) => d.events.submit(rec<KlaviyoEventRecord>(at), this.priorityOf(rec(at)), gaveUp))),
      profiles.length
        ? d.profiles.deliver(
            profiles.map((at) => rec<KlaviyoProfileRecord>(at)),
            this.priorityOf(rec(profiles[0])),
          )
        : Promise.resolve([]),
    ]);
    const de = deletions.length
      ? await d.deletions.deliver(
          deletions.map((at) => rec<KlaviyoDeletionRecord>(at)),
          this.mode === 'live' ? 'live' : 'backfill',
        )
      : [];
    return [
      ...events.map((at, i) => [at, ev[i]] as [number, DeliveryResult]),
      ...profiles.map((at, i) => [at, pr[i]] as [number, DeliveryResult]),
      ...deletions.map((at, i) => [at, de[i]] as [number, DeliveryResult]),
    ];
  }

  /** What the parked consumer knows of copies parked again in this pass, per partition. */
  private reorderOf(partition: number): Map<string, bigint> {
    let m = this.reparkedFrom.get(partition);
    if (!m) this.reparkedFrom.set(partition, (m = new Map()));
    return m;
  }

  /**
   * Writes the records to park to klaviyo.parked.v1 (acks=all, before the slice is committed):
   * keyed by connection, on the connection's partition, with the original headers. The offsets
   * they land at hold back the connection's profiles (drain-gate.ts) and, in the parked
   * consumer, the connection's later records of this pass.
   */
  private async park(
    partition: number,
    items: ReadonlyArray<Item | undefined>,
    park: readonly Park[],
    consumer: 'source' | 'parked',
    order: Map<string, bigint> | undefined,
  ): Promise<void> {
    const now = Date.now();
    const sorted = [...park].sort((a, b) => a.at - b.at); // in the slice's order
    const partitions = this.progress.partitions;
    const messages: Array<Message & { readonly connection: string; readonly partition: number }> = [];
    for (const p of sorted) {
      const item = items[p.at]!;
      const envelope = item.envelope
        ? reparked(item.envelope, p.reason, p.detail, now)
        : parkedEnvelope(item.source, p.reason, p.detail, now);
      messages.push({
        connection: item.connectionId,
        partition: parkedPartitionOf(item.connectionId, partitions),
        key: item.connectionId,
        value: await this.codec.encode(this.topics.parked.name, deadLetterToAvro(envelope)),
        headers: item.source.message.headers,
      });
      const lane = this.lanes.lane(item.connectionId);
      if (lane) lane.parked++;
      this.metrics.parked.inc({ connection: item.connectionId, reason: p.reason });
    }
    for (const run of chunksByBytes(messages)) {
      const sent = await this.producer.send({
        topic: this.topics.parked.name,
        acks: -1,
        messages: run.map(({ key, value, headers, partition: to }) => ({ key, value, headers, partition: to })),
      });
      const next = new Map(sent.map((m) => [m.partition, BigInt(m.baseOffset ?? '0')]));
      for (const m of run) {
        const offset = next.get(m.partition);
        if (offset === undefined) continue;
        next.set(m.partition, offset + 1n);
        this.lanes.gate.parked(m.connection, offset);
        if (consumer === 'parked' && m.partition === partition && order && !order.has(m.connection))
          order.set(m.connection, offset);
      }
    }
  }

  private unparked(item: Item): void {
    const lane = this.lanes.lane(item.connectionId);
    if (lane) lane.unparked++;
    this.metrics.unparked.inc({ connection: item.connectionId });
  }

  private async sleepWhileRunning(batch: StageBatch<unknown>, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (batch.isRunning() && Date.now() < until)
      await new Promise((r) => setTimeout(r, Math.min(250, until - Date.now())));
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
    clearInterval(this.progressTimer);
    this.abort.abort();
    await this.runtime.stop();
    await this.budgetShare.stop();
    await this.progress.stop();
    this.lanes.stop();
    await this.tombstones?.stop();
    await this.deletedContacts?.close();
    await this.keys.stop();
    await this.producer.disconnect().catch(() => undefined);
    await this.afterStop?.();
  }

  /** Set by createSinkRunner: closes the context the runner came from (its other providers). */
  afterStop?: () => Promise<void>;

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}

/** Whether every record a slice sends is an event. */
function onlyEvents(
  items: ReadonlyArray<Item | undefined>,
  deliver: ReadonlyMap<KlaviyoLane, readonly number[]>,
  probes: ReadonlyMap<KlaviyoLane, number>,
): boolean {
  const isEvent = (at: number) => items[at]?.record.kind === 'event';
  for (const ats of deliver.values()) if (!ats.every(isEvent)) return false;
  for (const at of probes.values()) if (!isEvent(at)) return false;
  return true;
}
