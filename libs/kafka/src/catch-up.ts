import { Logger } from '@nestjs/common';
import type { Consumer, ConsumerRunConfig, Kafka } from 'kafkajs';
import { GROUP_TIMING } from './kafka-client';
import { throwAwayConsumer, type ThrowAwayConsumer } from './throw-away-group';

/** No record read for this long while behind: the catch-up is stuck (a start fails instead of hanging). */
export const CATCH_UP_STALL_MS = 30_000;

/** A follower read nothing for `stallMs` while it was still behind the end offsets it had to reach. */
export class CatchUpStalledError extends Error {
  readonly retriable = true;
  constructor(message: string) {
    super(message);
    this.name = 'CatchUpStalledError';
  }
}

export interface CatchUpOptions {
  /** See CATCH_UP_STALL_MS. */
  readonly stallMs?: number;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/**
 * The wait of a follower that reads a topic up to the end offsets it saw at start (the
 * event-sourced state of a stage: subject keys, deleted contacts, the directory, connections).
 * Resolves once the consumer runs (`started`) and every partition reached its end; rejects with CatchUpStalledError when no
 * partition moved for `stallMs` (the group never got its partitions, the consumer crashed for
 * good, fetches stopped), with what it saw: joined or not, the partitions assigned, where each
 * one is. A warning names the same at half that time. A stage's start then fails with that
 * message (its process exits, readiness stays red) instead of waiting forever.
 */
export class CatchUp {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  private readonly remaining: Map<number, bigint>;
  private readonly at = new Map<number, bigint>();
  private readonly stallMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private lastProgress: number;
  private joined: { at: number; partitions: number[] } | null = null;
  private crashed: string | null = null;
  private timer?: NodeJS.Timeout;
  private warned = false;
  private settled = false;
  private running = false;

  constructor(
    private readonly topic: string,
    ends: ReadonlyMap<number, bigint>,
    opts: CatchUpOptions = {},
  ) {
    this.remaining = new Map(ends);
    this.stallMs = opts.stallMs ?? CATCH_UP_STALL_MS;
    this.logger = opts.logger ?? new Logger('CatchUp');
    this.now = opts.now ?? Date.now;
    this.lastProgress = this.now();
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // a failed start that nobody awaits is not an unhandled rejection
    this.done.catch(() => undefined);
  }

  /** True once every partition reached its end offset. */
  get caughtUp(): boolean {
    return this.remaining.size === 0;
  }

  /** The consumer runs (kafkajs' run() resolved: joined, or crashed and restarting): done once caught up too. */
  started(): void {
    this.running = true;
    this.lastProgress = this.now();
    if (this.remaining.size === 0) this.settle();
  }

  /** Watches `consumer`'s joins and crashes, and starts the stall check. */
  watch(consumer: Consumer): this {
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = {
        at: this.now(),
        partitions: [...(e.payload.memberAssignment[this.topic] ?? [])].sort((a, b) => a - b),
      };
      this.lastProgress = this.now();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.crashed = `${e.payload.error?.message ?? e.payload.error} (restart: ${e.payload.restart})`;
      if (!e.payload.restart) this.fail(`its consumer crashed and will not restart: ${this.crashed}`);
    });
    const every = Math.max(50, Math.min(5000, Math.floor(this.stallMs / 4)));
    this.timer = setInterval(() => this.check(), every);
    this.timer.unref();
    return this;
  }

  /** The follower applied the record before `nextOffset` of `partition`. */
  reached(partition: number, nextOffset: bigint): void {
    const before = this.at.get(partition);
    if (before === undefined || nextOffset > before) {
      this.at.set(partition, nextOffset);
      this.lastProgress = this.now();
    }
    const end = this.remaining.get(partition);
    if (end !== undefined && nextOffset >= end) {
      this.remaining.delete(partition);
      if (this.remaining.size === 0 && this.running) this.settle();
    }
  }

  /** Stops the stall check (the follower is being stopped). */
  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** What it saw, for a warning or an error. */
  describe(): string {
    const behind = [...this.remaining]
      .map(([p, end]) => `${p} at ${this.at.get(p) ?? 'nothing read'} of ${end}`)
      .join(', ');
    const join = this.joined
      ? `joined ${((this.now() - this.joined.at) / 1000).toFixed(1)} s ago with partitions [${this.joined.partitions.join(', ')}]`
      : 'never joined its group';
    return `partitions behind: ${behind || 'none'}; ${join}${this.crashed ? `; crashed: ${this.crashed}` : ''}`;
  }

  private check(): void {
    if (this.settled) return;
    const idle = this.now() - this.lastProgress;
    if (idle >= this.stallMs) {
      this.fail(`nothing read for ${(idle / 1000).toFixed(1)} s`);
    } else if (!this.warned && idle >= this.stallMs / 2) {
      this.warned = true;
      this.logger.warn(
        `catching up with ${this.topic}: nothing read for ${(idle / 1000).toFixed(1)} s; ${this.describe()}`,
      );
    }
  }

  private fail(why: string): void {
    if (this.settled) return;
    this.settled = true;
    this.dispose();
    this.rejectDone(new CatchUpStalledError(`cannot catch up with ${this.topic}: ${why}; ${this.describe()}`));
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.dispose();
    this.resolveDone();
  }
}

/**
 * Starts a follower (`start`: connect, subscribe, run, seek) watched by `catchUp`, and resolves
 * once it has caught up. A stall rejects even while `start` hangs (kafkajs' run() waits for the
 * join); on any failure the follower is stopped (`stop`: leave and delete its group) first.
 */
export async function startCaughtUp(
  catchUp: CatchUp,
  consumer: Consumer,
  stop: () => Promise<void>,
  start: () => Promise<void>,
): Promise<void> {
  catchUp.watch(consumer);
  const stalled = new Promise<never>((_, reject) => catchUp.done.catch(reject));
  stalled.catch(() => undefined);
  const running = start();
  running.catch(() => undefined);
  try {
    await Promise.race([running, stalled]);
    catchUp.started();
    await catchUp.done;
  } catch (e) {
    catchUp.dispose();
    await stop();
    throw e;
  }
}

/** `once` again (a new follower, a new group) after a CatchUpStalledError, up to `attempts` tries in all (default 2). */
export async function retryStalled<T>(logger: Logger, once: () => Promise<T>, attempts = 2): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once();
    } catch (e) {
      if (!(e instanceof CatchUpStalledError) || attempt >= attempts) throw e;
      logger.warn(`${e.message}: trying again with a new group (${attempt + 1} of ${attempts})`);
    }
  }
}

/**
 * A follower: a throw-away consumer of `topic` from the beginning (then `from`'s offsets, when
 * given), watched by a CatchUp to `ends`, resolved once caught up (startCaughtUp). `reached`
 * tells the CatchUp of progress from inside `run`'s handler.
 */
export async function startFollower(
  kafka: Kafka,
  topic: string,
  groupPrefix: string,
  ends: ReadonlyMap<number, bigint>,
  opts: CatchUpOptions,
  run: (catchUp: CatchUp) => Omit<ConsumerRunConfig, 'autoCommit'>,
  from: ReadonlyMap<number, bigint> = new Map(),
): Promise<ThrowAwayConsumer> {
  const catchUp = new CatchUp(topic, ends, opts);
  const follower = throwAwayConsumer(kafka, groupPrefix, GROUP_TIMING);
  const { consumer } = follower;
  await startCaughtUp(catchUp, consumer, follower.stop, async () => {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ ...run(catchUp), autoCommit: false });
    for (const [partition, offset] of from) consumer.seek({ topic, partition, offset: offset.toString() });
  });
  return follower;
}
