import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Config } from '@iks/config';
import { TOPICS } from '@iks/kafka';
import {
  InProcessReplay,
  planLines,
  planReplay,
  REPLAYABLE,
  ReplayPlanError,
  replayStage,
  type ReplayPlan,
} from '@iks/replay';
import type { SharedAdmin } from '@iks/console';

export class ReplayRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ReplayRequestError';
  }
}

export interface ReplayRequest {
  readonly topic: string;
  /** ISO 8601: start at the first record at or after it; absent: from the beginning. */
  readonly fromTime?: string;
  /** ISO 8601: stop at the first record at or after it; absent: the end now. */
  readonly toTime?: string;
}

export interface PlannedReplay {
  readonly id: string;
  readonly topic: string;
  readonly stage: 'sink' | 'transformer';
  readonly total: string;
  readonly lines: readonly string[];
}

export interface ReplayStatus {
  readonly id: string;
  readonly topic: string;
  readonly group: string;
  readonly state: 'running' | 'done' | 'failed';
  readonly done: string;
  readonly total: string;
  readonly summary: string;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly error: string | null;
}

const isoMs = (v: unknown, name: string): number | null => {
  if (v === undefined || v === null || v === '') return null;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms))
    throw new ReplayRequestError(`${name} "${String(v).slice(0, 40)}" is not an ISO 8601 date`, 400);
  return ms;
};

/**
 * The Pipeline page's replay: a plan first (the CLI's planning, libs/replay), kept for a few
 * minutes under an id, then that very plan started after the operator confirmed it, in this
 * process through a fresh group (InProcessReplay, as `cli replay` runs it). One at a time.
 */
export class ConsoleReplay {
  private readonly logger = new Logger(ConsoleReplay.name);
  private readonly plans = new Map<string, { plan: ReplayPlan; key: (typeof REPLAYABLE)[number]; at: number }>();
  private current: { status: ReplayStatus; run: InProcessReplay | null } | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: SharedAdmin,
    private readonly config: Config,
  ) {}

  async plan(req: ReplayRequest): Promise<PlannedReplay> {
    const prefix = this.config.kafka.topicPrefix;
    const key = REPLAYABLE.find((k) => `${prefix}${TOPICS[k].name}` === req.topic);
    if (!key)
      throw new ReplayRequestError(
        `topic must be one of ${REPLAYABLE.map((k) => prefix + TOPICS[k].name).join(', ')}`,
        400,
      );
    if (replayStage(key) === 'sink' && !this.config.klaviyo.apiKey) {
      throw new ReplayRequestError(
        'KLAVIYO_API_KEY is not set for the console: a replay of a klaviyo.* topic delivers to Klaviyo',
        422,
      );
    }
    const from = isoMs(req.fromTime, 'fromTime');
    const to = isoMs(req.toTime, 'toTime');
    if (from !== null && to !== null && to <= from) throw new ReplayRequestError('toTime must be after fromTime', 400);
    const plan = await this.admin
      .use((a) => planReplay(a, req.topic, from === null ? { kind: 'beginning' } : { kind: 'time', ms: from }, to))
      .catch((e) => {
        throw e instanceof ReplayPlanError ? new ReplayRequestError(e.message, e.usage ? 400 : 404) : e;
      });
    const id = randomBytes(8).toString('hex');
    const now = Date.now();
    for (const [k, p] of this.plans) if (now - p.at > 10 * 60_000) this.plans.delete(k);
    this.plans.set(id, { plan, key, at: now });
    return { id, topic: req.topic, stage: replayStage(key), total: plan.total.toString(), lines: planLines(plan) };
  }

  /** Starts a plan made by plan() (the one the operator saw). */
  async start(id: string): Promise<ReplayStatus> {
    const p = this.plans.get(id);
    if (!p) throw new ReplayRequestError('no such plan (plans are kept 10 minutes): plan the replay again', 404);
    if (this.current?.status.state === 'running')
      throw new ReplayRequestError(`a replay is running (${this.current.status.topic}): wait for it to end`, 409);
    if (p.plan.total === 0n) throw new ReplayRequestError('the plan has nothing to replay', 422);
    this.plans.delete(id);
    const stage = replayStage(p.key);
    const live = stage === 'sink' ? this.config.sink.groupId : this.config.transformer.groupId;
    const group = `${live}.replay.console.${new Date().toISOString().replace(/[-:.]/g, '')}`;
    const status: ReplayStatus = {
      id,
      topic: p.plan.topic,
      group,
      state: 'running',
      done: '0',
      total: p.plan.total.toString(),
      summary: '',
      startedAt: Date.now(),
      endedAt: null,
      error: null,
    };
    this.current = { status, run: null };
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      this.current.run = await InProcessReplay.start(
        admin,
        this.config,
        { key: p.key, name: p.plan.topic },
        p.plan,
        group,
      );
    } catch (e) {
      this.end({ state: 'failed', error: (e as Error).message });
      await admin.disconnect().catch(() => undefined);
      throw e;
    }
    this.logger.log(`replay ${id} started: ${p.plan.topic}, ${p.plan.total} record(s), group ${group}`);
    void this.follow(this.current.run, admin);
    return this.status()!;
  }

  status(): ReplayStatus | null {
    return this.current?.status ?? null;
  }

  async stop(): Promise<void> {
    await this.current?.run?.cleanUp();
  }

  private async follow(run: InProcessReplay, admin: { disconnect(): Promise<void> }): Promise<void> {
    try {
      for (;;) {
        const { done, total } = await run.progress();
        this.update({ done: done.toString(), summary: run.summary() });
        if (done >= total) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      await run.stop();
      this.end({ state: 'done', summary: run.summary() });
      this.logger.log(`replay ${this.current?.status.id} done: ${run.summary()}`);
    } catch (e) {
      this.end({ state: 'failed', error: (e as Error).message });
      this.logger.error(`replay failed: ${(e as Error).message}`);
    } finally {
      await run.cleanUp();
      await admin.disconnect().catch(() => undefined);
    }
  }

  private update(change: Partial<ReplayStatus>): void {
    if (this.current) this.current.status = { ...this.current.status, ...change };
  }

  private end(change: Partial<ReplayStatus>): void {
    this.update({ ...change, endedAt: Date.now() });
  }
}
