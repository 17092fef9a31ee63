import type { Admin, Kafka, Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import type { DeadLetter } from '@iks/domain';
import { createContext } from '@iks/ops';
import {
  allTopics,
  AvroCodec,
  DLQ_SOURCES,
  KAFKA,
  KafkaModule,
  PRODUCER,
  dlqName,
  matchesWhere,
  readTopicRanges,
  reasonKey,
  sendBack,
  type OffsetRange,
} from '@iks/kafka';
import type { CliIo } from '../cli-io';
import { resolveTopicArg, topicList } from './cli-topics';
import { confirmOrExit, type Prompt } from './confirm';
import { printable, printableJson } from './printable';
import { DLQ_SUBS, DLQ_USAGE, parseDlqArgs, type DlqArgs, type DlqFlags, type DlqSub } from './dlq.args';
import { knownConnection, type ConnectionLookup } from './connection-arg';
import { connectionOfLetter } from './connection-filter';

// shared with the console (libs/kafka/src/dead-letter-reprocess.ts)
export { REPROCESSED_FROM, reasonKey, matchesWhere, reprocessHeaders } from '@iks/kafka';

export interface DlqDeps extends ConnectionLookup {
  readonly prompt?: Prompt;
}

/** The group that keeps a reprocess's progress: per topic, and per connection with --connection. */
export function reprocessGroup(topic: string, connection: string | null): string {
  return connection === null ? `iks-dlq-reprocess.${topic}` : `iks-dlq-reprocess.${topic}.connection.${connection}`;
}

interface Letter {
  readonly dlqPartition: number;
  readonly dlqOffset: string;
  readonly letter: DeadLetter | null;
  readonly decodeError?: string;
}

/**
 * `dlq list`: every dead letter of `<topic>.dlq` (read with a throw-away group, nothing
 * committed) and a count by reason. `dlq reprocess`: send dead letters back to the topic they
 * came from, so that the stage that failed processes them again; progress is committed in
 * `iks-dlq-reprocess.<topic>` so that a second reprocess does not resend them.
 */
export async function runDlqCommand(args: string[], config: Config, io: CliIo, deps: DlqDeps = {}): Promise<number> {
  const parsed = parseDlqArgs(args);
  if (!parsed.ok) {
    io.stderr(
      `dlq${DLQ_SUBS.includes(args[0] as DlqSub) ? ` ${args[0]}` : ''}: ${parsed.error}\nusage: dlq ${DLQ_USAGE}`,
    );
    return 2;
  }
  return runDlq(parsed.value, config, io, deps);
}

/** `dlq` with its arguments checked (main.ts parses them with the same declaration). */
export async function runDlq(a: DlqArgs, config: Config, io: CliIo, deps: DlqDeps = {}): Promise<number> {
  const { sub, flags } = a;
  const prefix = config.kafka.topicPrefix;
  const base = a.topic.endsWith('.dlq') ? a.topic.slice(0, -'.dlq'.length) : a.topic;
  const topic = resolveTopicArg(base, prefix, DLQ_SOURCES);
  if (!topic) {
    io.stderr(`dlq: "${a.topic}" is not a topic with a dead-letter topic; valid: ${topicList(prefix, DLQ_SOURCES)}`);
    return 2;
  }
  const dlqTopic = dlqName(topic.name);
  if (flags.connection !== null) {
    const known = await knownConnection(`dlq ${sub}`, flags.connection, config, io, deps);
    if (!known.ok) return known.code;
  }
  const app = await createContext(config, 'cli', KafkaModule);
  const kafka = app.get<Kafka>(KAFKA);
  const admin = kafka.admin();
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(dlqTopic)) {
      io.stderr(
        `dlq: topic ${dlqTopic} does not exist (TOPIC_PREFIX="${prefix}"; the stages create it when they start)`,
      );
      return 1;
    }
    const codec = app.get(AvroCodec);
    if (sub === 'list') return await list(kafka, admin, codec, prefix, dlqTopic, flags, io);
    return await reprocess(
      kafka,
      app.get<Producer>(PRODUCER),
      admin,
      codec,
      config,
      topic.name,
      dlqTopic,
      flags,
      io,
      deps,
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
    await app.close();
  }
}

async function readLetters(
  kafka: Kafka,
  admin: Admin,
  codec: AvroCodec,
  dlq: string,
  ranges: readonly OffsetRange[],
): Promise<Letter[]> {
  const out: Letter[] = [];
  for (const { partition, message } of await readTopicRanges(kafka, admin, dlq, ranges)) {
    try {
      if (!message.value) throw new Error('empty record value');
      out.push({
        dlqPartition: partition,
        dlqOffset: message.offset,
        letter: await codec.decodeAs('dlq', message.value),
      });
    } catch (e) {
      out.push({ dlqPartition: partition, dlqOffset: message.offset, letter: null, decodeError: (e as Error).message });
    }
  }
  return out;
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

/**
 * With --connection, the letters of that connection's records (a letter that cannot be read
 * belongs to none) and how many were another's; without, all of them.
 */
async function ofConnection(
  codec: AvroCodec,
  prefix: string,
  letters: readonly Letter[],
  connection: string | null,
): Promise<{ letters: Letter[]; others: number }> {
  if (connection === null) return { letters: [...letters], others: 0 };
  const kept: Letter[] = [];
  for (const l of letters)
    if (l.letter && (await connectionOfLetter(codec, prefix, l.letter)) === connection) kept.push(l);
  return { letters: kept, others: letters.length - kept.length };
}

async function list(
  kafka: Kafka,
  admin: Admin,
  codec: AvroCodec,
  prefix: string,
  dlq: string,
  f: DlqFlags,
  io: CliIo,
): Promise<number> {
  const marks = await admin.fetchTopicOffsets(dlq);
  const ranges = marks.map((m) => ({ partition: m.partition, from: BigInt(m.low), to: BigInt(m.high) }));
  const { letters, others } = await ofConnection(
    codec,
    prefix,
    await readLetters(kafka, admin, codec, dlq, ranges),
    f.connection,
  );
  const ofWhom = f.connection === null ? '' : ` of connection "${f.connection}"`;
  const skipped = `${others} of other connections skipped`;
  if (letters.length === 0) {
    if (f.json && f.connection !== null)
      io.stdout(printableJson({ total: 0, by_reason: {}, connection: f.connection, other_connections: others }));
    else io.stdout(`no dead letters${ofWhom} in ${dlq}${f.connection === null ? '' : ` (${skipped})`}`);
    return 0;
  }
  const counts = new Map<string, number>();
  letters.forEach((l, i) => {
    const reason = l.letter ? reasonKey(l.letter) : 'undecodable dead letter';
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
    if (f.limit !== null && i >= f.limit) return;
    const at = `${dlq}:${l.dlqPartition}:${l.dlqOffset}`;
    if (!l.letter) {
      io.stdout(
        f.json
          ? printableJson({ dlq: at, decode_error: l.decodeError })
          : `${at}\tundecodable\t${printable(l.decodeError ?? '')}`,
      );
      return;
    }
    const d = l.letter;
    if (f.json) {
      io.stdout(
        printableJson({
          dlq: at,
          original: `${d.original_topic}:${d.partition}:${d.offset}`,
          original_topic: d.original_topic,
          partition: d.partition,
          offset: d.offset,
          key: d.key ? Buffer.from(d.key).toString('utf8') : null,
          stage: d.stage,
          error_class: d.error_class,
          error_code: d.error_code,
          error_message: d.error_message,
          retriable: d.retriable,
          attempts: d.attempts,
          first_failure_at: iso(d.first_failure_at),
          last_failure_at: iso(d.last_failure_at),
          headers: d.headers,
        }),
      );
      return;
    }
    io.stdout(
      [
        at,
        `original=${printable(d.original_topic)}:${d.partition}:${d.offset}`,
        `stage=${printable(d.stage)}`,
        `class=${printable(d.error_class)}`,
        `code=${printable(d.error_code ?? '-')}`,
        `attempts=${d.attempts}`,
        `first=${iso(d.first_failure_at)}`,
        `last=${iso(d.last_failure_at)}`,
        `reason=${printable(d.error_message)}`,
      ].join('\t'),
    );
  });
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (f.json) {
    io.stdout(
      printableJson({
        total: letters.length,
        by_reason: Object.fromEntries(sorted),
        ...(f.connection === null ? {} : { connection: f.connection, other_connections: others }),
      }),
    );
    return 0;
  }
  if (f.limit !== null && letters.length > f.limit) io.stdout(`(showing ${f.limit} of ${letters.length}; --limit)`);
  for (const [reason, n] of sorted) io.stdout(`count\t${n}\t${printable(reason)}`);
  io.stdout(
    `total\t${letters.length} dead letter(s)${ofWhom} in ${dlq}${f.connection === null ? '' : ` (${skipped})`}`,
  );
  return 0;
}

async function reprocess(
  kafka: Kafka,
  producer: Producer,
  admin: Admin,
  codec: AvroCodec,
  config: Config,
  topic: string,
  dlq: string,
  f: DlqFlags,
  io: CliIo,
  deps: DlqDeps,
): Promise<number> {
  const groupId = reprocessGroup(topic, f.connection);
  const prefix = config.kafka.topicPrefix;
  const { groups } = await admin.describeGroups([groupId]);
  if (groups[0] && groups[0].members.length > 0) {
    io.stderr(
      `dlq reprocess: another reprocess of ${topic} is running (group ${groupId} has ${groups[0].members.length} member(s))`,
    );
    return 1;
  }
  const marks = await admin.fetchTopicOffsets(dlq);
  const committed = new Map<number, bigint>();
  for (const t of await admin.fetchOffsets({ groupId, topics: [dlq] }))
    for (const p of t.partitions) committed.set(p.partition, BigInt(p.offset));
  const ranges: OffsetRange[] = marks.map((m) => {
    const low = BigInt(m.low);
    const c = committed.get(m.partition) ?? -1n;
    return { partition: m.partition, from: f.fromBeginning || c < low ? low : c, to: BigInt(m.high) };
  });
  const { letters, others } = await ofConnection(
    codec,
    prefix,
    await readLetters(kafka, admin, codec, dlq, ranges),
    f.connection,
  );
  const since = f.fromBeginning ? 'from the beginning' : `new since the last reprocess (group ${groupId})`;
  const ofWhom = f.connection === null ? '' : ` of connection "${f.connection}"`;
  if (f.connection !== null)
    io.stdout(`dlq reprocess: ${others} dead letter(s) of other connections skipped (not sent, left in ${dlq})`);
  if (letters.length === 0) {
    io.stdout(`dlq reprocess: no dead letters${ofWhom} in ${dlq} ${since}; sent 0`);
    return 0;
  }
  const known = new Set(allTopics(config.kafka.topicPrefix).map((t) => t.name));
  const send: Array<{ at: string; letter: DeadLetter }> = [];
  let notMatching = 0;
  let unusable = 0;
  for (const l of letters) {
    const at = `${dlq}:${l.dlqPartition}:${l.dlqOffset}`;
    if (!l.letter) {
      io.stdout(`skip\t${at}\tundecodable dead letter: ${printable(l.decodeError ?? '')}`);
      unusable++;
    } else if (!known.has(l.letter.original_topic)) {
      io.stdout(
        `skip\t${at}\toriginal topic ${printable(l.letter.original_topic)} is not one of this pipeline's topics`,
      );
      unusable++;
    } else if (!matchesWhere(l.letter, f.where)) notMatching++;
    else send.push({ at, letter: l.letter });
  }
  const byTopic = new Map<string, number>();
  for (const s of send) byTopic.set(s.letter.original_topic, (byTopic.get(s.letter.original_topic) ?? 0) + 1);
  io.stdout(`dlq reprocess: ${letters.length} dead letter(s)${ofWhom} in ${dlq} ${since}`);
  if (f.where !== null)
    io.stdout(`dlq reprocess: ${send.length} match --where reason~${f.where}, ${notMatching} do not`);
  for (const [t, n] of byTopic) io.stdout(`plan: send ${n} to ${t}`);
  if (send.length === 0) {
    io.stdout('dlq reprocess: nothing to send; sent 0 (progress unchanged)');
    return 0;
  }
  const stop = await confirmOrExit('dlq reprocess', f.yes, io, deps.prompt);
  if (stop !== null) return stop;

  await producer.connect();
  try {
    await sendBack(producer, send);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  // Sent, then committed (at-least-once): a crash in between resends on the next run.
  await admin.setOffsets({
    groupId,
    topic: dlq,
    partitions: ranges.map((r) => ({ partition: r.partition, offset: r.to.toString() })),
  });
  for (const s of send)
    io.stdout(
      `sent\t${s.at}\tto ${printable(s.letter.original_topic)} (was ${printable(s.letter.original_topic)}:${s.letter.partition}:${s.letter.offset})`,
    );
  io.stdout(
    `dlq reprocess: sent ${send.length} dead letter(s) back${[...byTopic].map(([t, n]) => ` (${t}: ${n})`).join('')}`,
  );
  if (notMatching + unusable > 0) {
    io.stdout(
      `dlq reprocess: ${notMatching + unusable} not sent and passed over; they stay in ${dlq} (dlq list shows them; --from-beginning considers every letter again)`,
    );
  }
  return 0;
}
