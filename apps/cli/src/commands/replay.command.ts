import type { Admin } from 'kafkajs';
import type { Config } from '@iks/config';
import { createKafka, sleep, type TopicKey } from '@iks/kafka';
import { SinkRunner } from '@iks/sink';
import { intercomSourceFor, type IntercomSource } from '@iks/directory';
import { TransformerRunner } from '@iks/transformer';
import type { CliIo } from '../cli-io';
import { resolveTopicArg, topicList } from './cli-topics';
import { confirmOrExit, type Prompt } from './confirm';
import { parseReplayArgs, REPLAY_USAGE, type ReplayArgs } from './replay.args';

/** Topics a replay can re-read: the raw topic (re-map) and the normalized ones (re-deliver). */
export const REPLAYABLE: readonly TopicKey[] = ['notifications', 'events', 'profiles', 'deletions'];

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
      notes.push(`partition ${m.partition}: offset ${asked} is no longer in the log; starting at the earliest, ${m.low}`);
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

export interface ReplayDeps {
  readonly prompt?: Prompt;
  /** Lookups for a raw-topic replay (default: from INTERCOM_ACCESS_TOKEN). */
  readonly intercomSource?: IntercomSource;
  /** SIGINT subscription (default process); returns the unsubscribe. */
  readonly onInterrupt?: (handler: () => void) => () => void;
  readonly pollMs?: number;
  /** Replay group name (default `<live group>.replay.<timestamp>`). */
  readonly replayGroupId?: string;
}

const processInterrupt = (handler: () => void) => {
  process.on('SIGINT', handler);
  return () => void process.off('SIGINT', handler);
};

/**
 * `replay`: re-read a topic from a position. With --group, reset a stopped group's offsets so
 * that its app re-reads from there when it starts. Without, run the stage in-process through a
 * fresh group of its own up to the end captured at start (or --to-time), then stop: the sink
 * re-delivers (its Klaviyo traffic yields to live traffic; unique_id makes Klaviyo drop events
 * it already has), the transformer re-maps raw notifications (e.g. after a mapping change).
 */
export async function runReplayCommand(args: string[], config: Config, io: CliIo, deps: ReplayDeps = {}): Promise<number> {
  const parsed = parseReplayArgs(args);
  if (!parsed.ok) {
    io.stderr(`replay: ${parsed.error}\nusage: replay ${REPLAY_USAGE}`);
    return 2;
  }
  return runReplay(parsed.value, config, io, deps);
}

/** `replay` with its arguments checked (main.ts parses them with the same declaration). */
export async function runReplay(a: ReplayArgs, config: Config, io: CliIo, deps: ReplayDeps = {}): Promise<number> {
  const prefix = config.kafka.topicPrefix;
  const topic = resolveTopicArg(a.topic, prefix, REPLAYABLE);
  if (!topic) {
    io.stderr(`replay: --topic "${a.topic}" is not a replayable topic; valid: ${topicList(prefix, REPLAYABLE)}`);
    return 2;
  }
  if (a.group === null && topic.key !== 'notifications' && !config.klaviyo.apiKey) {
    io.stderr('replay: KLAVIYO_API_KEY is not set (the in-process replay delivers to Klaviyo; or pass --group to reset a stopped sink group)');
    return 2;
  }

  const kafka = createKafka(config.kafka);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic.name)) {
      io.stderr(`replay: topic ${topic.name} does not exist on ${config.kafka.brokers.join(',')}`);
      return 1;
    }
    const marks = (await admin.fetchTopicOffsets(topic.name)).map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
    const starts = new Map<number, bigint>();
    if (a.from.kind === 'beginning') for (const m of marks) starts.set(m.partition, m.low);
    else if (a.from.kind === 'time') {
      for (const o of await admin.fetchTopicOffsetsByTimestamp(topic.name, a.from.ms)) starts.set(o.partition, BigInt(o.offset));
    } else {
      const known = new Set(marks.map((m) => m.partition));
      for (const o of a.from.offsets) {
        if (!known.has(o.partition)) {
          io.stderr(`replay: --from-offset names partition ${o.partition}, but ${topic.name} has partitions ${[...known].sort((x, y) => x - y).join(',')}`);
          return 2;
        }
        starts.set(o.partition, o.offset);
      }
    }
    let ends: Map<number, bigint> | null = null;
    if (a.toTime !== null) {
      ends = new Map((await admin.fetchTopicOffsetsByTimestamp(topic.name, a.toTime)).map((o) => [o.partition, BigInt(o.offset)]));
    }
    const { plan, notes } = planPartitions(marks, starts, ends);
    const total = planTotal(plan);
    const stage = topic.key === 'notifications' ? 'transformer' : 'sink';
    const liveGroup = stage === 'transformer' ? config.transformer.groupId : config.sink.groupId;

    if (a.group !== null) return await resetGroup(admin, a, topic.name, plan, total, notes, liveGroup, stage, io, deps);

    const replayGroup = deps.replayGroupId ?? `${liveGroup}.replay.${new Date().toISOString().replace(/[-:.]/g, '')}`;
    io.stdout(`replay: in-process ${stage} replay of ${topic.name} through a separate group ${replayGroup} (the live group ${liveGroup} is not touched${stage === 'sink' ? '; Klaviyo traffic yields to live traffic' : ''})`);
    printPlan(io, topic.name, plan, total, notes, a.toTime);
    if (stage === 'transformer') {
      // The mapping re-emits what each notification produced then, contact snapshots and profile
      // upserts included: stopping short of the end can leave older contact states written last.
      io.stdout(`note: re-mapped contact notifications re-write their contact snapshots and profile upserts as of then${a.toTime !== null ? '; with --to-time, later changes are not re-applied after them' : ''}`);
    }
    if (total === 0n) {
      io.stdout('replay: nothing to replay');
      return 0;
    }
    const stop = await confirmOrExit('replay', a.yes, io, deps.prompt);
    if (stop !== null) return stop;
    return await replayInProcess(admin, config, topic, plan, total, replayGroup, stage, io, deps);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function printPlan(io: CliIo, topic: string, plan: readonly PartitionPlan[], total: bigint, notes: readonly string[], toTime: number | null): void {
  io.stdout(`plan: topic ${topic}, ${plan.length} partition(s)${toTime !== null ? `, up to ${new Date(toTime).toISOString()}` : ''}`);
  for (const p of plan) io.stdout(`plan: partition ${p.partition} from offset ${p.from} to ${p.to} (${p.to - p.from} records)`);
  for (const n of notes) io.stdout(`note: ${n}`);
  io.stdout(`plan: ${total} record(s) in total`);
}

async function resetGroup(
  admin: Admin, a: ReplayArgs, topic: string, plan: readonly PartitionPlan[], total: bigint, notes: readonly string[],
  liveGroup: string, stage: string, io: CliIo, deps: ReplayDeps,
): Promise<number> {
  const group = a.group!;
  const { groups } = await admin.describeGroups([group]);
  const g = groups[0];
  if (g && (g.members.length > 0 || !['Empty', 'Dead'].includes(g.state))) {
    io.stderr(`replay: group ${group} has ${g.members.length} active member(s) (state ${g.state}): stop ${group} first, or omit --group to replay through a separate group`);
    return 1;
  }
  if ((!g || g.state === 'Dead') && group !== liveGroup) {
    // Dead: the broker knows nothing of it (no members, no offsets): most likely a typo.
    io.stderr(`replay: --group ${group} does not exist (no members and no committed offsets); the configured ${stage} group is ${liveGroup}`);
    return 2;
  }
  io.stdout(`replay: resetting the offsets of the stopped group ${group} on ${topic}; the ${stage} re-reads from there when it starts (nothing is replayed now)`);
  if (!g || g.state === 'Dead') io.stdout(`note: group ${group} has never run; the ${stage} starts there when it first starts`);
  if (group !== liveGroup) io.stdout(`note: the configured ${stage} group is ${liveGroup}`);
  const committed = new Map<number, string>();
  for (const t of await admin.fetchOffsets({ groupId: group, topics: [topic] })) {
    for (const p of t.partitions) committed.set(p.partition, p.offset);
  }
  printPlan(io, topic, plan, total, notes, null);
  for (const p of plan) io.stdout(`plan: group ${group} partition ${p.partition} committed ${committed.get(p.partition) ?? '-1'} -> ${p.from}`);
  if (plan.length === 0) {
    io.stdout('replay: no partition to reset');
    return 0;
  }
  const stop = await confirmOrExit('replay', a.yes, io, deps.prompt);
  if (stop !== null) return stop;
  await admin.setOffsets({ groupId: group, topic, partitions: plan.map((p) => ({ partition: p.partition, offset: p.from.toString() })) });
  io.stdout(`replay: group ${group} now starts ${topic} at ${plan.map((p) => `${p.partition}:${p.from}`).join(',')}; start the ${stage} to re-read ${total} record(s)`);
  return 0;
}

interface InProcessReplay {
  stop(): Promise<void>;
  summary(): string;
}

async function replayInProcess(
  admin: Admin, config: Config, topic: { key: TopicKey; name: string }, plan: readonly PartitionPlan[], total: bigint,
  groupId: string, stage: 'sink' | 'transformer', io: CliIo, deps: ReplayDeps,
): Promise<number> {
  // The fresh group gets its start offsets before it joins: partitions outside the plan are set
  // to their end so that nothing else of the topic is read (a fresh group would start at 0).
  const marks = await admin.fetchTopicOffsets(topic.name);
  const byPartition = new Map(plan.map((p) => [p.partition, p.from.toString()]));
  const initial = marks.map((m) => ({ partition: m.partition, offset: byPartition.get(m.partition) ?? m.high }));
  await admin.setOffsets({ groupId, topic: topic.name, partitions: initial });

  let interrupted = false;
  const unsubscribe = (deps.onInterrupt ?? processInterrupt)(() => {
    interrupted = true;
  });
  let run: InProcessReplay | undefined;
  try {
    if (stage === 'sink') {
      const sink = new SinkRunner(config);
      run = {
        stop: () => sink.stop(),
        summary: () => {
          const delivered = sink.tally.count('done');
          const dead = sink.tally.count('dead_letter');
          return `${delivered + dead} replayed, ${delivered} delivered, ${dead} dead-lettered`;
        },
      };
      const until = new Map(plan.map((p) => [`${topic.name}:${p.partition}`, p.to]));
      await sink.start({ groupId, topics: [topic.key as 'events' | 'profiles' | 'deletions'], mode: 'replay', until });
    } else {
      const transformer = new TransformerRunner(config, deps.intercomSource ?? intercomSourceFor(config));
      run = {
        stop: () => transformer.stop(),
        summary: () => {
          const t = transformer.tally;
          return `${t.count()} replayed, ${t.producedCount()} record(s) produced, ${t.count('pending')} sent to the retry topic, ${t.count('dead_letter')} dead-lettered`;
        },
      };
      await transformer.start({ groupId, retryConsumer: false });
    }

    const pollMs = deps.pollMs ?? 500;
    let lastReport = Date.now();
    for (;;) {
      const committed = new Map<number, bigint>();
      for (const t of await admin.fetchOffsets({ groupId, topics: [topic.name] })) {
        for (const p of t.partitions) committed.set(p.partition, BigInt(p.offset));
      }
      const done = plan.reduce((n, p) => {
        const c = committed.get(p.partition) ?? -1n;
        return n + (c <= p.from ? 0n : c >= p.to ? p.to - p.from : c - p.from);
      }, 0n);
      if (done >= total) break;
      if (interrupted) {
        const resume = plan.filter((p) => (committed.get(p.partition) ?? -1n) < p.to).map((p) => {
          const c = committed.get(p.partition) ?? -1n;
          return `${p.partition}:${c > p.from ? c : p.from}`;
        });
        io.stderr(`replay: interrupted after ${done} of ${total} record(s) (${run.summary()}); to replay the rest: --from-offset ${resume.join(',')}`);
        return 130;
      }
      if (Date.now() - lastReport >= 5000) {
        io.stdout(`replay: ${done}/${total} record(s)`);
        lastReport = Date.now();
      }
      await sleep(pollMs);
    }
    await run.stop();
    // The stage reads whole batches, so it may run past the planned end (records written since
    // the start, or after --to-time): copies of what the live stage handles anyway, and
    // deduplicated by unique_id. Say how many.
    let read = 0n;
    const finalOffsets = new Map<number, bigint>();
    for (const t of await admin.fetchOffsets({ groupId, topics: [topic.name] })) for (const p of t.partitions) finalOffsets.set(p.partition, BigInt(p.offset));
    for (const i of initial) read += (finalOffsets.get(i.partition) ?? BigInt(i.offset)) - BigInt(i.offset);
    io.stdout(`replay done: ${topic.name}, ${total} record(s) planned: ${run.summary()}`);
    if (read > total) io.stdout(`note: ${read - total} record(s) past the planned end were read too (whole batches; already handled by the live ${stage})`);
    return 0;
  } finally {
    unsubscribe();
    await run?.stop().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}
