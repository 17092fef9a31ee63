import { Logger } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, Producer } from 'kafkajs';
import { describeError, GROUP_TIMING, nextOffset, sendInBoundedRequests, type AvroCodec, type DeadLetterPublisher, type FailureContext } from '@iks/kafka';
import { sleep } from '@iks/retry';
import { OutcomePublisher } from './outcome-publisher';
import type { StageTally } from './stage-metrics';
import type { ProducedRecord, StageConsumerSpec, StageHandler, StageName, StageResult } from './stage.types';

const DEFAULT_CHUNK = 500;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export interface StageConsumerDeps {
  readonly stage: StageName;
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly deadLetters: DeadLetterPublisher;
  readonly tally: StageTally;
  readonly codec: AvroCodec;
  /** A failure kafkajs will not restart from: the process should exit so its supervisor restarts it. */
  readonly onFatal: (error: unknown) => void;
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

  constructor(private readonly spec: StageConsumerSpec, private readonly handlers: ReadonlyMap<string, StageHandler>, private readonly deps: StageConsumerDeps) {
    this.logger = new Logger(`${deps.stage}:${spec.groupId}`);
    this.outcomes = spec.outcomesTopic
      ? new OutcomePublisher(spec.outcomesTopic, deps.stage, deps.producer, deps.codec, spec.describeRecord ?? (async () => null))
      : null;
  }

  async start(): Promise<void> {
    const { kafka } = this.deps;
    const consumer = kafka.consumer({ groupId: this.spec.groupId, allowAutoTopicCreation: false, ...GROUP_TIMING, ...this.spec.consumer });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
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
    await consumer.subscribe({ topics: this.spec.topics.map((t) => t.topic), fromBeginning: true });
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
    await this.consumer?.disconnect().catch(() => undefined);
    this.running = false;
  }

  health(now = Date.now()): ConsumerHealth {
    let lag = 0n;
    for (const p of this.positions.values()) if (p.high > p.committed) lag += p.high - p.committed;
    const secondsSinceProgress = lag > 0n ? Math.max(0, (now - this.lastProgressAt) / 1000) : 0;
    return {
      groupId: this.spec.groupId, running: this.running, crashed: this.crashed, failing: this.failing,
      lag: Number(lag), secondsSinceProgress,
    };
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    const tp = `${batch.topic}:${batch.partition}`;
    this.track(tp, BigInt(batch.highWatermark), BigInt(batch.messages[0].offset));
    const end = this.spec.until?.get(tp);
    const messages = end === undefined ? batch.messages : batch.messages.filter((m) => BigInt(m.offset) < end);
    if (messages.length === 0) {
      if (end !== undefined) await this.commit(batch.topic, batch.partition, end.toString());
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
    } finally {
      clearInterval(beat);
    }
  }

  /** One slice until it is committed; false when the consumer stops first. */
  private async handleWithRetry(payload: EachBatchPayload, chunk: EachBatchPayload['batch']['messages']): Promise<boolean> {
    const { batch, isRunning, isStale } = payload;
    let backoff = BACKOFF_MIN_MS;
    for (;;) {
      const started = process.hrtime.bigint();
      try {
        const result = await this.handlers.get(batch.topic)!({
          topic: batch.topic, partition: batch.partition, messages: chunk,
          heartbeat: () => payload.heartbeat(), isRunning: () => isRunning() && !isStale(),
        });
        if (result.aborted || !isRunning() || isStale()) return false;
        await this.settle(batch.topic, batch.partition, chunk, result);
        payload.resolveOffset(chunk[chunk.length - 1].offset);
        this.deps.tally.batchSeconds.observe({ stage: this.deps.stage }, Number(process.hrtime.bigint() - started) / 1e9);
        if (this.failing) this.logger.log(`recovered: ${batch.topic}[${batch.partition}] moves again`);
        this.failing = null;
        return true;
      } catch (e) {
        if (!isRunning() || isStale()) return false;
        const d = describeError(e);
        const text = `${d.cls}: ${d.message}`;
        if (this.failing !== text) {
          this.logger.error(`cannot process ${batch.topic}[${batch.partition}] now, retrying with backoff (nothing committed): ${text}`);
          // best effort: Kafka itself may be what fails; once per failure streak, not per attempt
          await this.outcomes?.publishRetried(batch.topic, batch.partition, chunk, e).catch(() => undefined);
        }
        this.failing = text;
        const until = Date.now() + backoff;
        while (Date.now() < until) {
          if (!isRunning() || isStale()) return false;
          await sleep(Math.min(1000, until - Date.now()));
        }
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /** Produce, dead-letter, count, commit: in that order (at-least-once). */
  private async settle(topic: string, partition: number, chunk: EachBatchPayload['batch']['messages'], result: StageResult): Promise<void> {
    if (result.outcomes.length !== chunk.length) {
      throw new Error(`stage handler returned ${result.outcomes.length} outcome(s) for ${chunk.length} record(s)`);
    }
    await this.produce(result.produce ?? []);
    const { tally, deadLetters, stage } = this.deps;
    const letters: FailureContext[] = [];
    result.outcomes.forEach((o, i) => {
      if (o.kind === 'dead_letter') letters.push({ topic, partition, message: chunk[i], stage, error: o.error, attempts: o.attempts, firstFailureAt: o.firstFailureAt });
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
    await this.commit(topic, partition, nextOffset(chunk[chunk.length - 1].offset));
  }

  private async produce(records: readonly ProducedRecord[]): Promise<void> {
    // requests of bounded size, sent in order: however large the slice, no request (and so no
    // partition's record batch) goes past the broker's limits
    await sendInBoundedRequests(this.deps.producer, records.map((r) => ({ ...r.message, topic: r.topic })), (t, n) => this.deps.tally.produced(t, n));
  }

  private async commit(topic: string, partition: number, offset: string): Promise<void> {
    await this.consumer!.commitOffsets([{ topic, partition, offset }]);
    this.track(`${topic}:${partition}`, undefined, BigInt(offset));
    this.lastProgressAt = Date.now();
  }

  private track(tp: string, high: bigint | undefined, committed: bigint): void {
    const p = this.positions.get(tp);
    const wasCaughtUp = [...this.positions.values()].every((x) => x.high <= x.committed);
    const next = { high: high ?? p?.high ?? committed, committed: high === undefined ? committed : p?.committed ?? committed };
    this.positions.set(tp, next);
    if (wasCaughtUp && next.high > next.committed) this.lastProgressAt = Date.now();
    const lag = next.high > next.committed ? next.high - next.committed : 0n;
    const [topic, partition] = [tp.slice(0, tp.lastIndexOf(':')), tp.slice(tp.lastIndexOf(':') + 1)];
    this.deps.tally.lag.set({ stage: this.deps.stage, topic, partition }, Number(lag));
  }
}
