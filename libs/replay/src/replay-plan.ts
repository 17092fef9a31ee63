import type { Admin } from 'kafkajs';
import type { TopicKey } from '@iks/kafka';

/** Topics a replay can re-read: the raw topic (re-map) and the normalized ones (re-deliver). */
export const REPLAYABLE: readonly TopicKey[] = ['notifications', 'events', 'profiles', 'deletions'];

export type ReplayFrom =
  | { readonly kind: 'beginning' }
  | {
      readonly kind: 'offsets';
      readonly offsets: ReadonlyArray<{ readonly partition: number; readonly offset: bigint }>;
    }
  | { readonly kind: 'time'; readonly ms: number };

export interface PartitionPlan {
  readonly partition: number;
  /** First offset to read. */
  readonly from: bigint;
  /** Exclusive end: the replay stops once it has processed everything before it. */
  readonly to: bigint;
}

export interface TopicWatermarks {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

export interface ReplayPlan {
  readonly topic: string;
  readonly plan: PartitionPlan[];
  readonly notes: string[];
  readonly total: bigint;
  readonly toTime: number | null;
}

/** A plan that cannot be made: `usage` when the request names what does not exist (exit 2 in the CLI, 400 in the console). */
export class ReplayPlanError extends Error {
  constructor(
    message: string,
    readonly usage: boolean,
  ) {
    super(message);
    this.name = 'ReplayPlanError';
  }
}

/**
 * Which offsets a replay covers, per partition: starts (missing = partition not replayed) clamped
 * to what the log still holds, ends (default: the high watermark now) never before the start.
 */
export function planPartitions(
  marks: readonly TopicWatermarks[],
  starts: ReadonlyMap<number, bigint>,
  ends: ReadonlyMap<number, bigint> | null,
): { plan: PartitionPlan[]; notes: string[] } {
  const notes: string[] = [];
  const plan: PartitionPlan[] = [];
  for (const m of [...marks].sort((a, b) => a.partition - b.partition)) {
    const asked = starts.get(m.partition);
    if (asked === undefined) continue;
    let from = asked;
    if (from < m.low) {
      notes.push(
        `partition ${m.partition}: offset ${asked} is no longer in the log; starting at the earliest, ${m.low}`,
      );
      from = m.low;
    }
    if (from > m.high) {
      notes.push(`partition ${m.partition}: offset ${asked} is past the end (${m.high}); nothing to replay there`);
      from = m.high;
    }
    let to = ends?.get(m.partition) ?? m.high;
    if (to > m.high) to = m.high;
    if (to < from) to = from;
    plan.push({ partition: m.partition, from, to });
  }
  return { plan, notes };
}

export const planTotal = (plan: readonly PartitionPlan[]): bigint => plan.reduce((n, p) => n + (p.to - p.from), 0n);

/** The plan of a replay of `topic` from a position (up to `toTime`, else the end now), from the broker's offsets. */
export async function planReplay(
  admin: Admin,
  topic: string,
  from: ReplayFrom,
  toTime: number | null,
): Promise<ReplayPlan> {
  if (!(await admin.listTopics()).includes(topic)) throw new ReplayPlanError(`topic ${topic} does not exist`, false);
  const marks = (await admin.fetchTopicOffsets(topic)).map((o) => ({
    partition: o.partition,
    low: BigInt(o.low),
    high: BigInt(o.high),
  }));
  const starts = new Map<number, bigint>();
  if (from.kind === 'beginning') for (const m of marks) starts.set(m.partition, m.low);
  else if (from.kind === 'time') {
    for (const o of await admin.fetchTopicOffsetsByTimestamp(topic, from.ms)) starts.set(o.partition, BigInt(o.offset));
  } else {
    const known = new Set(marks.map((m) => m.partition));
    for (const o of from.offsets) {
      if (!known.has(o.partition)) {
        throw new ReplayPlanError(
          `--from-offset names partition ${o.partition}, but ${topic} has partitions ${[...known].sort((x, y) => x - y).join(',')}`,
          true,
        );
      }
      starts.set(o.partition, o.offset);
    }
  }
  const ends =
    toTime === null
      ? null
      : new Map((await admin.fetchTopicOffsetsByTimestamp(topic, toTime)).map((o) => [o.partition, BigInt(o.offset)]));
  const { plan, notes } = planPartitions(marks, starts, ends);
  return { topic, plan, notes, total: planTotal(plan), toTime };
}

/** The plan as lines (`plan: …`, `note: …`), as the CLI prints it and the console shows it. */
export function planLines(p: ReplayPlan): string[] {
  return [
    `plan: topic ${p.topic}, ${p.plan.length} partition(s)${p.toTime !== null ? `, up to ${new Date(p.toTime).toISOString()}` : ''}`,
    ...p.plan.map((x) => `plan: partition ${x.partition} from offset ${x.from} to ${x.to} (${x.to - x.from} records)`),
    ...p.notes.map((n) => `note: ${n}`),
    `plan: ${p.total} record(s) in total`,
  ];
}
