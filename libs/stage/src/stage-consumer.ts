import { Logger } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import {
  describeError,
  GROUP_TIMING,
  nextOffset,
  RecordDecodeError,
  SEALED_RECORDS_COMPRESSION,
  sendInBoundedRequests,
  type AvroCodec,
  type DeadLetterPublisher,
  type FailureContext,
  type TopicKey,
} from '@iks/kafka';
import { connectionOf, connectionOfKey } from '@iks/domain';
import { retry } from '@iks/retry';
import { Coalescer } from './coalescer';
import { OutcomePublisher } from './outcome-publisher';
import type { StageTally } from './stage-metrics';
import type {
  OutcomeSubject,
  ProducedRecord,
  RecordOutcome,
  StageConsumerSpec,
  StageHandler,
  StageName,
  StageRecord,
  StageResult,
} from './stage.types';

const DEFAULT_CHUNK = 500;
/** How often a slice waiting to be retried checks that the consumer still runs. */
const STOP_CHECK_MS = 1000;

type Messages = EachBatchPayload['batch']['messages'];

/** A pipelined slice's place in its partition (see StageConsumerSpec.pipeline). */
interface InPipeline {
  /** Whether the partition's previous slice was committed: this one commits only after it, and only if it was. */
  readonly prev: Promise<boolean>;
  /** The handler's release: the batch returns to kafkajs (the next fetch) while the slice waits for its answers. */
  readonly release: () => void;
  /** Still this slice's consumer, running, and the generation it was fetched in. */
  readonly current: () => boolean;
  /** What the slice commits: past its batch's records of other connections when it is the batch's last. */
  readonly commitAt: string;
}

/** A consumed topic as the loop sees it: its record kind, its one handler, how to describe a record. */
export interface ConsumedTopic {
  readonly key: TopicKey;
  readonly handler: StageHandler<unknown>;
  readonly describe?: (record: unknown) => OutcomeSubject;
}

export interface StageConsumerDeps {
  readonly stage: StageName;
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly deadLetters: DeadLetterPublisher;
  readonly tally: StageTally;
  readonly codec: AvroCodec;
  /** A failure kafkajs will not restart from: the process should exit so its supervisor restarts it. */
  readonly onFatal: (error: unknown) => void;
  /** A failing slice is read again after a jittered backoff (libs/retry) from retryInitialMs, doubling up to retryMaxMs. */
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /**
   * Only this connection's records go to the handlers (a replay's `--connection`); the others
   * are passed over: no outcome, no count, their offsets committed with the slice after them.
   */
  readonly onlyConnection?: string | null;
}

export interface ConsumerHealth {
  readonly groupId: string;
  /** Joined its group and fetching. */
  readonly running: boolean;
  /** The consumer crashed for good. */
  readonly crashed: boolean;
  /** The handler's last call failed (broker, registry, network) and is being retried. */
  readonly failing: string | null;
  readonly lag: number;
  /** Seconds since the last commit while there was lag (0 when caught up). */
  readonly secondsSinceProgress: number;
}

/**
 * The one stage loop (Kafka Connect's sink contract, for every stage): a partition's batch is
 * cut into slices; each slice goes to the handler, which returns one outcome per record and
 * the records to produce; the runner produces them (acks=all), sends dead letters with their
 * reason, counts every outcome and note, and only then commits. A handler error (the stage
 * cannot work right now) is retried with capped backoff on the same slice, the consumer stays
 * in its group and readiness turns red; a crash kafkajs does not restart from is fatal.
 */
export class StageConsumer {
  private readonly logger: Logger;
  private consumer?: Consumer;
  private running = false;
  private crashed = false;
  private failing: string | null = null;
  private stopping = false;
  /** Per `topic:partition`: high watermark seen and next offset committed. */
  private readonly positions = new Map<string, { high: bigint; committed: bigint }>();
  private lastProgressAt = Date.now();
  private readonly outcomes: OutcomePublisher | null;
  /** Offsets of slices settling in the same turn go in one commit. */
  private readonly commits = new Coalescer<{ topic: string; partition: number; offset: string }>((offsets) =>
    this.consumer!.commitOffsets(latestPerPartition(offsets)),
  );
  /** Pipelined: per `topic:partition`, whether its last slice was committed. Cleared at every join. */
  private readonly tails = new Map<string, Promise<boolean>>();
  /** Bumped at every join: a pipelined slice of an earlier generation commits nothing. */
  private generation = 0;
  /** Pipelined: bumped per `topic:partition` when it is read again from its committed offset (rewind). */
  private readonly epochs = new Map<string, number>();
  private recordsInFlight = 0;
  private roomWaiters: Array<() => void> = [];

  /** `topics`: each consumed topic (by name) with its handler. */
  constructor(
    private readonly spec: StageConsumerSpec,
    private readonly topics: ReadonlyMap<string, ConsumedTopic>,
    private readonly deps: StageConsumerDeps,
  ) {
    this.logger = new Logger(`${deps.stage}:${spec.groupId}`);
    this.outcomes = spec.outcomesTopic
      ? new OutcomePublisher(spec.outcomesTopic, deps.stage, deps.producer, deps.codec, (topic, value) =>
          this.describe(topic, value),
        )
      : null;
  }

  /** What a record is, for the outcomes topic, when the handler did not say (a failed slice). */
  private async describe(topic: string, value: Buffer | null): Promise<OutcomeSubject | null> {
    const t = this.topics.get(topic);
    if (!t?.describe) return null;
    return t.describe(await this.deps.codec.decodeAs(t.key, value));
  }

  async start(): Promise<void> {
    const { kafka } = this.deps;
    const consumer = kafka.consumer({
      groupId: this.spec.groupId,
      allowAutoTopicCreation: false,
      ...GROUP_TIMING,
      ...this.spec.consumer,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.generation++;
      this.tails.clear();
      this.running = true;
      this.spec.onAssignment?.(payload.memberAssignment);
    });
    consumer.on(consumer.events.STOP, () => (this.running = false));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.running = false;
      if (payload.restart || this.stopping) {
        this.logger.warn(`consumer restarting after ${payload.error.name}: ${payload.error.message}`);
        return;
      }
      this.crashed = true;
      this.logger.error(`consumer crashed and will not restart: ${payload.error.name}: ${payload.error.message}`);
      this.deps.onFatal(payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.spec.topics.map((t) => t.topic.name), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.spec.partitionsConsumedConcurrently ?? 1,
      eachBatch: (p) => this.onBatch(p),
    });
    for (const s of this.spec.seek ?? []) consumer.seek(s);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeRoomWaiters();
    await this.consumer?.disconnect().catch(() => undefined);
    this.running = false;
  }

  health(now = Date.now()): ConsumerHealth {
    let lag = 0n;
    for (const p of this.positions.values()) if (p.high > p.committed) lag += p.high - p.committed;
    const secondsSinceProgress = lag > 0n ? Math.max(0, (now - this.lastProgressAt) / 1000) : 0;
    return {
      groupId: this.spec.groupId,
      running: this.running,
      crashed: this.crashed,
      failing: this.failing,
      lag: Number(lag),
      secondsSinceProgress,
    };
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const tp = `${batch.topic}:${batch.partition}`;
    this.track(tp, BigInt(batch.highWatermark), BigInt(batch.messages[0].offset));
    const end = this.spec.until?.get(tp);
    const inRange = end === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) < end);
    const messages = await this.ofConnection(batch.topic, inRange);
    const passedOver = async () => {
      // the batch's last records are another connection's: committed past, unhandled
      const last = inRange[inRange.length - 1];
      if (last === undefined || last === messages[messages.length - 1]) return;
      await this.commit(batch.topic, batch.partition, nextOffset(last.offset));
      payload.resolveOffset(last.offset);
    };
    if (this.spec.pipeline)
      return this.pipelined(payload, inRange, messages, end, this.spec.pipeline.maxRecordsInFlight);
    if (messages.length === 0) {
      if (inRange.length > 0) await passedOver();
      else if (end !== undefined) await this.commit(batch.topic, batch.partition, end.toString());
      return;
    }
    // Deliveries may wait for rate windows or retries: keep the membership alive meanwhile.
    const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), GROUP_TIMING.heartbeatInterval);
    try {
      const size = this.spec.chunkSize ?? DEFAULT_CHUNK;
      for (let i = 0; i < messages.length; i += size) {
        if (!isRunning() || isStale()) return;
        const chunk = messages.slice(i, i + size);
        const done = await this.handleWithRetry(payload, chunk);
        if (!done) return;
      }
      if (isRunning() && !isStale()) await passedOver();
    } finally {
      clearInterval(beat);
    }
  }

  /**
   * A batch of a pipelined spec: each slice starts, and the batch returns to kafkajs (which then
   * fetches again) once every slice's handler has released it and no more than `limit` records
   * are unsettled. Each slice is committed after its partition's previous one, and not at all if
   * that one was not (a stop, a rebalance): kafkajs then reads the partition again from the
   * committed offset. The batch's records are resolved at once, so the next fetch goes on after them.
   */
  private async pipelined(
    payload: EachBatchPayload,
    inRange: Messages,
    messages: Messages,
    end: bigint | undefined,
    limit: number,
  ): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    const tp = `${batch.topic}:${batch.partition}`;
    const generation = this.generation;
    const epoch = this.epochs.get(tp) ?? 0;
    const current = () =>
      isRunning() && !isStale() && !this.stopping && this.generation === generation && this.epochs.get(tp) === epoch;
    this.epochs.set(tp, epoch);
    const last = inRange[inRange.length - 1];
    // what the batch's last slice commits: past the records of other connections, or the replay's end
    const through = last ? nextOffset(last.offset) : end?.toString();
    if (through === undefined) return;
    if (messages.length === 0) {
      this.chain(tp, current, async (prev) => {
        if (!(await prev) || !current()) return false;
        // a commit that fails leaves the records uncommitted: the partition is read again (rewind)
        return this.commit(batch.topic, batch.partition, through).then(
          () => true,
          () => false,
        );
      });
      if (last) payload.resolveOffset(last.offset);
      return;
    }
    const size = this.spec.chunkSize ?? DEFAULT_CHUNK;
    const releases: Promise<unknown>[] = [];
    for (let i = 0; i < messages.length; i += size) {
      const chunk = messages.slice(i, i + size);
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const commitAt = i + size >= messages.length ? through : nextOffset(chunk[chunk.length - 1].offset);
      this.recordsInFlight += chunk.length;
      const beat = setInterval(() => void payload.heartbeat().catch(() => undefined), GROUP_TIMING.heartbeatInterval);
      const work = this.chain(tp, current, (prev) =>
        this.handleWithRetry(payload, chunk, { prev, release, current, commitAt }).finally(() => {
          clearInterval(beat);
          this.recordsInFlight -= chunk.length;
          this.wakeRoomWaiters();
        }),
      );
      releases.push(Promise.race([work, released]));
    }
    await Promise.all(releases);
    if (!current()) return;
    payload.resolveOffset(last.offset);
    while (this.recordsInFlight > limit && current()) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, STOP_CHECK_MS);
        this.roomWaiters.push(() => (clearTimeout(t), r()));
      });
    }
  }

  /**
   * The partition's next pipelined step: `step` gets whether the one before it was committed, and
   * says whether it committed. A step that did not while its slice is still current (the handler
   * gave up: a rebalance it saw coming) rewinds the partition to its committed offset, so that
   * nothing resolved past it is left unread; the steps after it are no longer current.
   */
  private chain(
    tp: string,
    current: () => boolean,
    step: (prev: Promise<boolean>) => Promise<boolean>,
  ): Promise<boolean> {
    const next = step(this.tails.get(tp) ?? Promise.resolve(true)).then(
      (ok) => {
        if (!ok && current()) this.rewind(tp);
        return ok;
      },
      (e: unknown) => {
        // handleWithRetry retries every failure while its slice is current: this is the consumer ending
        if (current()) this.deps.onFatal(e);
        return false;
      },
    );
    this.tails.set(tp, next);
    void next.finally(() => this.tails.get(tp) === next && this.tails.delete(tp));
    return next;
  }

  /** The partition is read again from its committed offset; its slices in flight are no longer current. */
  private rewind(tp: string): void {
    this.epochs.set(tp, (this.epochs.get(tp) ?? 0) + 1);
    const at = tp.lastIndexOf(':');
    const committed = this.positions.get(tp)?.committed;
    if (committed === undefined || !this.consumer) return;
    this.logger.warn(`${tp}: a slice ended uncommitted, reading again from offset ${committed}`);
    this.consumer.seek({ topic: tp.slice(0, at), partition: Number(tp.slice(at + 1)), offset: committed.toString() });
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  /** The records of onlyConnection (all of them without it): by `connection_id`, or by key when a record does not decode. */
  private async ofConnection(
    topic: string,
    messages: EachBatchPayload['batch']['messages'],
  ): Promise<EachBatchPayload['batch']['messages']> {
    const only = this.deps.onlyConnection;
    if (only === undefined || only === null) return messages;
    const key = this.topics.get(topic)!.key;
    const kept: EachBatchPayload['batch']['messages'] = [];
    for (const m of messages) {
      let connection: string;
      try {
        connection = connectionOf(
          (await this.deps.codec.decodeAs(key, m.value)) as { readonly connection_id?: string },
        );
      } catch (e) {
        if (!(e instanceof RecordDecodeError)) throw e;
        connection = connectionOfKey(m.key);
      }
      if (connection === only) kept.push(m);
    }
    return kept;
  }

  /**
   * One slice until it is committed; false when the consumer stops first. A slice that fails
   * (broker, registry, network) is retried with libs/retry's backoff (jittered), forever:
   * nothing is committed meanwhile, the consumer stays in its group and readiness is red.
   */
  private async handleWithRetry(
    payload: EachBatchPayload,
    chunk: EachBatchPayload['batch']['messages'],
    pipe?: InPipeline,
  ): Promise<boolean> {
    const { batch, isRunning, isStale } = payload;
    const running = pipe?.current ?? (() => isRunning() && !isStale());
    const stopped = new AbortController();
    const watch = setInterval(() => running() || stopped.abort(new Error('consumer stopping')), STOP_CHECK_MS);
    try {
      return await retry(
        async () => {
          const started = process.hrtime.bigint();
          try {
            const result = await this.handleSlice(payload, chunk, running, pipe?.release);
            if (!result || !running()) return false;
            if (!(await this.settle(batch.topic, batch.partition, chunk, result, pipe))) return false;
            // pipelined: the batch resolved its records already (resolving a slice now would move the fetch back)
            if (!pipe) payload.resolveOffset(chunk[chunk.length - 1].offset);
            this.deps.tally.batchSeconds.observe(
              { stage: this.deps.stage },
              Number(process.hrtime.bigint() - started) / 1e9,
            );
            if (this.failing) this.logger.log(`recovered: ${batch.topic}[${batch.partition}] moves again`);
            this.failing = null;
            return true;
          } catch (e) {
            if (!running()) throw e;
            const d = describeError(e);
            const text = `${d.cls}: ${d.message}`;
            if (this.failing !== text) {
              this.logger.error(
                `cannot process ${batch.topic}[${batch.partition}] now, retrying with backoff (nothing committed): ${text}`,
              );
              // best effort: Kafka itself may be what fails; once per failure streak, not per attempt
              await this.outcomes?.publishRetried(batch.topic, batch.partition, chunk, e).catch(() => undefined);
            }
            this.failing = text;
            throw e;
          }
        },
        {
          // half jitter: replicas failing together spread out, and no retry comes sooner than half its backoff
          retries: Number.POSITIVE_INFINITY,
          initialMs: this.deps.retryInitialMs,
          maxMs: this.deps.retryMaxMs,
          jitter: 0.5,
          isRetriable: running,
          signal: stopped.signal,
        },
      );
    } catch (e) {
      if (!running() || stopped.signal.aborted) return false;
      throw e;
    } finally {
      clearInterval(watch);
    }
  }

  /**
   * Decodes the slice against its topic's schema (a record that does not decode is a dead letter
   * before any handler sees it), gives the decoded records to the topic's handler, and puts the
   * outcomes back in the slice's order. undefined when the handler stopped early (shutdown).
   */
  private async handleSlice(
    payload: EachBatchPayload,
    chunk: EachBatchPayload['batch']['messages'],
    running: () => boolean,
    release: () => void = () => undefined,
  ): Promise<StageResult | undefined> {
    const { batch } = payload;
    const topic = this.topics.get(batch.topic)!;
    const records: StageRecord<unknown>[] = [];
    const undecodable: Array<RecordOutcome | undefined> = [];
    for (const message of chunk) {
      try {
        records.push({ message, value: await this.deps.codec.decodeAs(topic.key, message.value) });
        undecodable.push(undefined);
      } catch (e) {
        if (!(e instanceof RecordDecodeError)) throw e; // the registry cannot answer now: the slice is retried
        undecodable.push({ kind: 'dead_letter', error: e });
      }
    }
    const result: StageResult =
      records.length === 0
        ? { outcomes: [] }
        : await topic.handler({
            topic: batch.topic,
            partition: batch.partition,
            records,
            heartbeat: () => payload.heartbeat(),
            isRunning: running,
            release,
          });
    if (result.aborted) return undefined;
    if (result.outcomes.length !== records.length) {
      throw new Error(`stage handler returned ${result.outcomes.length} outcome(s) for ${records.length} record(s)`);
    }
    let next = 0;
    return { ...result, outcomes: undecodable.map((o) => o ?? result.outcomes[next++]) };
  }

  /**
   * Produce, dead-letter, count, commit: in that order (at-least-once). Pipelined, the commit also
   * waits for the partition's previous slice: false (nothing committed) when that one was not
   * committed or the slice is no longer current.
   */
  private async settle(
    topic: string,
    partition: number,
    chunk: EachBatchPayload['batch']['messages'],
    result: StageResult,
    pipe?: InPipeline,
  ): Promise<boolean> {
    if (result.outcomes.length !== chunk.length) {
      throw new Error(`stage handler returned ${result.outcomes.length} outcome(s) for ${chunk.length} record(s)`);
    }
    await this.produce(result.produce ?? []);
    const { tally, deadLetters, stage } = this.deps;
    const letters: FailureContext[] = [];
    result.outcomes.forEach((o, i) => {
      if (o.kind === 'dead_letter')
        letters.push({
          topic: o.original?.topic ?? topic,
          partition: o.original?.partition ?? partition,
          message: o.original?.message ?? chunk[i],
          stage,
          error: o.error,
          attempts: o.attempts,
          firstFailureAt: o.firstFailureAt,
        });
    });
    if (letters.length > 0) await deadLetters.publishAll(letters);
    for (let i = 0; i < chunk.length; i++) {
      const o = result.outcomes[i];
      if (o.kind === 'dead_letter') {
        const d = describeError(o.error);
        tally.outcome(topic, 'dead_letter', d.code ?? d.cls, o.source);
      } else {
        tally.outcome(topic, o.kind, o.reason, o.source);
        if (o.kind !== 'pending') for (const n of o.notes ?? []) tally.note(n);
      }
    }
    await this.outcomes?.publish(topic, partition, chunk, result.outcomes);
    await this.spec.beforeCommit?.(topic, partition);
    if (pipe && (!(await pipe.prev) || !pipe.current())) return false;
    await this.commit(topic, partition, pipe?.commitAt ?? nextOffset(chunk[chunk.length - 1].offset));
    return true;
  }

  private async produce(records: readonly ProducedRecord[]): Promise<void> {
    // requests of bounded size, sent in order: however large the slice, no request (and so no
    // partition's record batch) goes past the broker's limits; LZ4, as what a stage writes is
    // mostly sealed (SEALED_RECORDS_COMPRESSION)
    await sendInBoundedRequests(
      this.deps.producer,
      records.map((r) => ({ ...r.message, topic: r.topic })),
      { onSent: (t, n) => this.deps.tally.produced(t, n), compression: SEALED_RECORDS_COMPRESSION },
    );
  }

  private async commit(topic: string, partition: number, offset: string): Promise<void> {
    await this.commits.add([{ topic, partition, offset }]);
    this.track(`${topic}:${partition}`, undefined, BigInt(offset));
    this.lastProgressAt = Date.now();
  }

  private track(tp: string, high: bigint | undefined, committed: bigint): void {
    const p = this.positions.get(tp);
    const wasCaughtUp = [...this.positions.values()].every((x) => x.high <= x.committed);
    const next = {
      high: high ?? p?.high ?? committed,
      committed: high === undefined ? committed : (p?.committed ?? committed),
    };
    this.positions.set(tp, next);
    if (wasCaughtUp && next.high > next.committed) this.lastProgressAt = Date.now();
    const lag = next.high > next.committed ? next.high - next.committed : 0n;
    const [topic, partition] = [tp.slice(0, tp.lastIndexOf(':')), tp.slice(tp.lastIndexOf(':') + 1)];
    this.deps.tally.lag.set({ stage: this.deps.stage, topic, partition }, Number(lag));
  }
}

/** One offset per partition, the furthest (a coalesced commit may hold several slices of one partition). */
function latestPerPartition(
  offsets: ReadonlyArray<{ topic: string; partition: number; offset: string }>,
): Array<{ topic: string; partition: number; offset: string }> {
  const latest = new Map<string, { topic: string; partition: number; offset: string }>();
  for (const o of offsets) {
    const k = `${o.topic}:${o.partition}`;
    const had = latest.get(k);
    if (!had || BigInt(o.offset) > BigInt(had.offset)) latest.set(k, o);
  }
  return [...latest.values()];
}
