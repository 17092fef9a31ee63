import type { Admin, Kafka } from 'kafkajs';
import type { Config } from '@iks/config';
import { AvroCodec, KAFKA, KafkaModule, readTopicRanges, type TopicKey } from '@iks/kafka';
import { createContext } from '@iks/ops';
import { sleep } from '@iks/retry';
import type { IntercomSource } from '@iks/directory';
import {
  InProcessReplay,
  planLines,
  planReplay,
  ReplayPlanError,
  replayStage,
  REPLAYABLE,
  type ReplayPlan,
} from '@iks/replay';
import type { CliIo } from '../cli-io';
import { resolveTopicArg, topicList } from './cli-topics';
import { confirmOrExit, type Prompt } from './confirm';
import { parseReplayArgs, REPLAY_USAGE, type ReplayArgs } from './replay.args';
import { knownConnection, type ConnectionLookup } from './connection-arg';
import { connectionOfRecord, splitCount } from './connection-filter';

export interface ReplayDeps extends ConnectionLookup {
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
 * With --connection, only that connection's records are replayed: the plan says how many of the
 * range are another connection's, and the stage passes over them (committed past, unhandled).
 */
export async function runReplayCommand(
  args: string[],
  config: Config,
  io: CliIo,
  deps: ReplayDeps = {},
): Promise<number> {
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
    io.stderr(
      'replay: KLAVIYO_API_KEY is not set (the in-process replay delivers to Klaviyo; or pass --group to reset a stopped sink group)',
    );
    return 2;
  }

  if (a.connection !== null) {
    const known = await knownConnection('replay', a.connection, config, io, deps);
    if (!known.ok) return known.code;
  }

  const app = await createContext(config, 'cli', KafkaModule);
  const kafka = app.get<Kafka>(KAFKA);
  const admin = kafka.admin();
  try {
    await admin.connect();
    let planned: ReplayPlan;
    try {
      planned = await planReplay(admin, topic.name, a.from, a.toTime);
    } catch (e) {
      if (!(e instanceof ReplayPlanError)) throw e;
      io.stderr(`replay: ${e.message}${e.usage ? '' : ` on ${config.kafka.brokers.join(',')}`}`);
      return e.usage ? 2 : 1;
    }
    const { total } = planned;
    const stage = replayStage(topic.key);
    const liveGroup = stage === 'transformer' ? config.transformer.groupId : config.sink.groupId;

    if (a.group !== null) return await resetGroup(admin, a, { ...planned, toTime: null }, liveGroup, stage, io, deps);

    const replayGroup = deps.replayGroupId ?? `${liveGroup}.replay.${new Date().toISOString().replace(/[-:.]/g, '')}`;
    io.stdout(
      `replay: in-process ${stage} replay of ${topic.name} through a separate group ${replayGroup} (the live group ${liveGroup} is not touched${stage === 'sink' ? '; Klaviyo traffic yields to live traffic' : ''})`,
    );
    for (const l of planLines(planned)) io.stdout(l);
    let runConfig = config;
    if (a.connection !== null) {
      // the range read once to say what the replay of one connection covers; the stage then passes over the others'
      const records = await readTopicRanges(kafka, admin, topic.name, planned.plan);
      const codec = app.get(AvroCodec);
      const ofRecords = [];
      for (const r of records) ofRecords.push(await connectionOfRecord(codec, topic.key, r.message));
      const { mine, others } = splitCount(ofRecords, a.connection);
      io.stdout(
        `plan: ${mine} record(s) of connection "${a.connection}" replayed; ${others} of other connections skipped (passed over, not ${stage === 'sink' ? 'delivered' : 're-mapped'})`,
      );
      if (mine === 0) {
        io.stdout(`replay: nothing of connection "${a.connection}" to replay`);
        return 0;
      }
      runConfig = { ...config, stage: { ...config.stage, onlyConnection: a.connection } };
    }
    if (stage === 'transformer') {
      // The mapping re-emits what each notification produced then, contact snapshots and profile
      // upserts included: stopping short of the end can leave older contact states written last.
      io.stdout(
        `note: re-mapped contact notifications re-write their contact snapshots and profile upserts as of then${a.toTime !== null ? '; with --to-time, later changes are not re-applied after them' : ''}`,
      );
    }
    if (total === 0n) {
      io.stdout('replay: nothing to replay');
      return 0;
    }
    const stop = await confirmOrExit('replay', a.yes, io, deps.prompt);
    if (stop !== null) return stop;
    return await replayInProcess(admin, runConfig, topic, planned, replayGroup, io, deps);
  } finally {
    await admin.disconnect().catch(() => undefined);
    await app.close();
  }
}

async function resetGroup(
  admin: Admin,
  a: ReplayArgs,
  planned: ReplayPlan,
  liveGroup: string,
  stage: string,
  io: CliIo,
  deps: ReplayDeps,
): Promise<number> {
  const { topic, plan, total } = planned;
  const group = a.group!;
  const { groups } = await admin.describeGroups([group]);
  const g = groups[0];
  if (g && (g.members.length > 0 || !['Empty', 'Dead'].includes(g.state))) {
    io.stderr(
      `replay: group ${group} has ${g.members.length} active member(s) (state ${g.state}): stop ${group} first, or omit --group to replay through a separate group`,
    );
    return 1;
  }
  if ((!g || g.state === 'Dead') && group !== liveGroup) {
    // Dead: the broker knows nothing of it (no members, no offsets): most likely a typo.
    io.stderr(
      `replay: --group ${group} does not exist (no members and no committed offsets); the configured ${stage} group is ${liveGroup}`,
    );
    return 2;
  }
  io.stdout(
    `replay: resetting the offsets of the stopped group ${group} on ${topic}; the ${stage} re-reads from there when it starts (nothing is replayed now)`,
  );
  if (!g || g.state === 'Dead')
    io.stdout(`note: group ${group} has never run; the ${stage} starts there when it first starts`);
  if (group !== liveGroup) io.stdout(`note: the configured ${stage} group is ${liveGroup}`);
  const committed = new Map<number, string>();
  for (const t of await admin.fetchOffsets({ groupId: group, topics: [topic] })) {
    for (const p of t.partitions) committed.set(p.partition, p.offset);
  }
  for (const l of planLines(planned)) io.stdout(l);
  for (const p of plan)
    io.stdout(
      `plan: group ${group} partition ${p.partition} committed ${committed.get(p.partition) ?? '-1'} -> ${p.from}`,
    );
  if (plan.length === 0) {
    io.stdout('replay: no partition to reset');
    return 0;
  }
  const stop = await confirmOrExit('replay', a.yes, io, deps.prompt);
  if (stop !== null) return stop;
  await admin.setOffsets({
    groupId: group,
    topic,
    partitions: plan.map((p) => ({ partition: p.partition, offset: p.from.toString() })),
  });
  io.stdout(
    `replay: group ${group} now starts ${topic} at ${plan.map((p) => `${p.partition}:${p.from}`).join(',')}; start the ${stage} to re-read ${total} record(s)`,
  );
  return 0;
}

/** How long a replay may commit nothing before it says what its consumer is doing, ms. */
const STALL_REPORT_MS = 30_000;

async function replayInProcess(
  admin: Admin,
  config: Config,
  topic: { key: TopicKey; name: string },
  planned: ReplayPlan,
  groupId: string,
  io: CliIo,
  deps: ReplayDeps,
): Promise<number> {
  let interrupted = false;
  const unsubscribe = (deps.onInterrupt ?? processInterrupt)(() => {
    interrupted = true;
  });
  let run: InProcessReplay | undefined;
  try {
    run = await InProcessReplay.start(admin, config, topic, planned, groupId, deps.intercomSource);
    const pollMs = deps.pollMs ?? 500;
    let lastReport = Date.now();
    let lastDone = -1n;
    let movedAt = Date.now();
    for (;;) {
      const { done, total, committed } = await run.progress();
      if (done >= total) break;
      if (done !== lastDone) [lastDone, movedAt] = [done, Date.now()];
      else if (Date.now() - movedAt >= STALL_REPORT_MS) {
        // nothing committed for a while: say what the replay's consumer is doing (it keeps trying)
        io.stderr(
          `replay: no progress for ${Math.round((Date.now() - movedAt) / 1000)} s at ${done}/${total}; consumer: ${run.consumerState()}`,
        );
        movedAt = Date.now();
      }
      if (interrupted) {
        io.stderr(
          `replay: interrupted after ${done} of ${total} record(s) (${run.summary()}); to replay the rest: --from-offset ${run.resumeFrom(committed)}`,
        );
        return 130;
      }
      if (Date.now() - lastReport >= 5000) {
        io.stdout(`replay: ${done}/${total} record(s)`);
        lastReport = Date.now();
      }
      await sleep(pollMs);
    }
    // The stage reads whole batches, so it may run past the planned end (records written since
    // the start, or after --to-time): copies of what the live stage handles anyway, and
    // deduplicated by unique_id. Say how many.
    const past = await run.stop();
    io.stdout(`replay done: ${topic.name}, ${planned.total} record(s) planned: ${run.summary()}`);
    if (past > 0n)
      io.stdout(
        `note: ${past} record(s) past the planned end were read too (whole batches; already handled by the live ${run.stage})`,
      );
    return 0;
  } finally {
    unsubscribe();
    if (run) await run.cleanUp();
    else await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}
