/**
 * Shared helpers for the benchmarks (bench/*.bench.ts): timing, percentiles, peak RSS
 * sampling, plain-line printing, a fresh TOPIC_PREFIX config, fixture-built raw
 * notifications with distinct ids, and bulk producing to the local broker.
 *
 * Benches print figures; they assert nothing (speed targets are never tests).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Partitioners, type Kafka, type Message } from 'kafkajs';
import type { AppName, Config } from '@iks/config';
import type { RawNotification } from '@iks/domain';
import type { AvroCodec } from '@iks/kafka';
import { mapNotification, staticLookups } from '@iks/mapping';
import { freshConfig } from '../test/support/test-config';
import { EnvReader } from '../tools/support/env-reader';

// ---------------------------------------------------------------- printing

/** One plain line: `label: value`, padded so figures line up. */
export function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(52)} ${value}\n`);
}

export function heading(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

export function note(text: string): void {
  process.stdout.write(`   ${text}\n`);
}

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRate(n: number, unit: string): string {
  return `${fmtInt(n)} ${unit}/s`;
}

export function fmtMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 3 : 1)} ms`;
}

export function fmtMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

// ---------------------------------------------------------------- timing

/** High-resolution milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = nowMs();
  const value = await fn();
  return { ms: nowMs() - t0, value };
}

export { sleep } from '../tools/support/wait-for';

/** Nearest-rank percentile of an unsorted sample (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function percentiles(
  values: readonly number[],
  ps: readonly number[] = [50, 90, 99, 100],
): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b);
  const out: Record<string, number> = {};
  for (const p of ps)
    out[`p${p}`] =
      sorted.length === 0
        ? NaN
        : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return out;
}

// ---------------------------------------------------------------- memory

/** Samples process RSS on a timer; peak() is the highest value seen (and the current one). */
export class RssSampler {
  private max = process.memoryUsage.rss();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs = 50) {}

  start(): this {
    this.reset();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
    return this;
  }

  reset(): void {
    this.max = process.memoryUsage.rss();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.max) this.max = rss;
  }

  peak(): number {
    this.sample();
    return this.max;
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.peak();
  }
}

// ---------------------------------------------------------------- env / config

/** A positive integer bench knob from the environment (BENCH_N, ...), `def` when unset. */
export function envInt(name: string, def: number): number {
  const env = new EnvReader();
  const n = env.int(name, def, 1);
  env.done();
  return n;
}

/** A config with a fresh TOPIC_PREFIX and group ids (nothing shared with other runs), on the local stack by default. */
export function benchConfig(app: AppName, env: Record<string, string> = {}): Config {
  return freshConfig(app, env, 'bench', {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  });
}

// ---------------------------------------------------------------- fixtures

/** libs/mapping/fixtures, found from dist/bench/ or from bench/ (ts sources). */
export const FIXTURES_DIR = resolve(
  __dirname,
  __dirname.includes(`${join('dist', 'bench')}`) ? '../..' : '..',
  'libs',
  'mapping',
  'fixtures',
);

export interface FixtureEnvelope {
  id: string;
  topic: string;
  app_id: string;
  created_at: number;
  delivery_attempts?: number;
  first_sent_at?: number | null;
  data: { item: Record<string, unknown> };
  [k: string]: unknown;
}

/** Every fixture notification, by file name (without .json). */
export function fixtureNotifications(): Map<string, FixtureEnvelope> {
  const dir = join(FIXTURES_DIR, 'notifications');
  const out = new Map<string, FixtureEnvelope>();
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    out.set(f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, f), 'utf8')));
  }
  return out;
}

type Directory = Required<
  Pick<Parameters<typeof staticLookups>[0], 'contacts' | 'admins' | 'teams' | 'tags' | 'subscriptions'>
>;
type Subscriptions = Directory['subscriptions'][string];

/** The directory files (GET /contacts/{id}, /admins, /teams, /tags, subscriptions) as staticLookups wants them. */
export function fixtureDirectory(): Directory {
  const read = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES_DIR, `${name}.json`), 'utf8'));
  // GET /contacts/{id}/subscriptions answers `{ type: 'list', data: [...] }`; some entries are kept in that form.
  const subscriptions: Record<string, Subscriptions> = {};
  for (const [id, v] of Object.entries(
    read('subscriptions') as Record<string, Subscriptions | { data?: Subscriptions } | null>,
  )) {
    subscriptions[id] = Array.isArray(v) ? v : ((v as { data?: Subscriptions } | null)?.data ?? []);
  }
  return {
    contacts: read('contacts') as Directory['contacts'],
    admins: read('admins') as Directory['admins'],
    teams: read('teams') as Directory['teams'],
    tags: read('tags') as Directory['tags'],
    subscriptions,
  };
}

const MAPPED_PREFIXES = ['conversation.', 'ticket.', 'contact.'];

/** The fixtures of the mapped topic families (conversation.*, ticket.*, contact.*), in a stable order. */
export function mappedFixtureMix(opts: { excludeTopics?: readonly string[] } = {}): FixtureEnvelope[] {
  const exclude = new Set(opts.excludeTopics ?? []);
  // BENCH_EXCLUDE_FIXTURES: fixture file names (without .json) left out, e.g. to run an older commit's mix
  const files = new Set(
    (process.env.BENCH_EXCLUDE_FIXTURES ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  );
  return [...fixtureNotifications()]
    .filter(
      ([file, e]) => MAPPED_PREFIXES.some((p) => e.topic.startsWith(p)) && !exclude.has(e.topic) && !files.has(file),
    )
    .map(([, e]) => e);
}

/**
 * The mix without the fixtures the mapping refuses (the pre-2.0 payload is a dead letter by
 * design): for benches that need records out of every notification (sink, console).
 */
export function mappableFixtureMix(): FixtureEnvelope[] {
  const lookups = staticLookups(fixtureDirectory());
  return mappedFixtureMix().filter((e) => {
    try {
      mapNotification(
        { notificationId: e.id, topic: e.topic, createdAt: e.created_at, source: 'webhook', body: e },
        lookups,
      );
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Copy number `i` of a fixture, with a distinct notification id and (for conversations and
 * tickets) a distinct item id, so every copy is a different Intercom event with its own
 * unique_id and Kafka key. Contact topics keep their contact (the directory knows it), except
 * deletions/archivals, which get a distinct contact id (another person each time).
 */
export function distinctCopy(envelope: FixtureEnvelope, i: number, runTag = ''): FixtureEnvelope {
  const copy = structuredClone(envelope);
  const n = String(i).padStart(7, '0');
  copy.id = `${envelope.id}-${runTag}${n}`;
  const item = copy.data.item;
  if (envelope.topic.startsWith('conversation.') || envelope.topic.startsWith('ticket.')) {
    item.id = `${item.id}${n}`;
  } else if (envelope.topic === 'contact.deleted' || envelope.topic === 'contact.archived') {
    item.id = `${item.id}-${n}`;
    if (item.external_id) item.external_id = `${item.external_id}-${n}`;
    if (typeof item.email === 'string') item.email = item.email.replace('@', `+${n}@`);
  }
  return copy;
}

/** The Kafka key ingest gives a notification (apps/ingest/src/webhook/envelope.ts entityKey). */
export function entityKeyOf(envelope: FixtureEnvelope): string {
  const item = envelope.data.item;
  const type = typeof item.type === 'string' ? item.type : envelope.topic.split('.')[0];
  const contact = item.contact && typeof item.contact === 'object' ? (item.contact as { id?: unknown }) : null;
  if (envelope.topic.startsWith('contact.') && contact && contact.id != null) {
    return `contact:${String(contact.id)}`;
  }
  if (item.id != null) return `${type}:${String(item.id)}`;
  return `notification:${envelope.id}`;
}

/** What ingest writes to intercom.notifications.v1 for an envelope. */
export function rawNotificationOf(
  envelope: FixtureEnvelope,
  source: 'webhook' | 'backfill' = 'webhook',
): RawNotification {
  return {
    notification_id: envelope.id,
    topic: envelope.topic,
    app_id: envelope.app_id,
    created_at: envelope.created_at,
    delivery_attempts: envelope.delivery_attempts ?? 1,
    first_sent_at: envelope.first_sent_at ?? null,
    received_at: Date.now(),
    source,
    body: JSON.stringify(envelope),
  };
}

/** N envelopes cycling through `mix`, each a distinct copy. */
export function distinctEnvelopes(mix: readonly FixtureEnvelope[], n: number, runTag = ''): FixtureEnvelope[] {
  const out: FixtureEnvelope[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = distinctCopy(mix[i % mix.length], i, runTag);
  return out;
}

// ---------------------------------------------------------------- producing

/**
 * Produces pre-encoded messages with large sends (a few in flight), acks=all. Sends are cut
 * by bytes (default 768 KiB) as well as count: kafkajs puts a partition's share of a send in
 * one record batch, and the broker refuses batches over message.max.bytes (1 MiB default).
 * Returns the elapsed milliseconds.
 */
export async function produceMessages(
  kafka: Kafka,
  topic: string,
  messages: readonly Message[],
  opts: { maxCount?: number; maxBytes?: number; inFlight?: number } = {},
): Promise<number> {
  const maxCount = opts.maxCount ?? 2000;
  const maxBytes = opts.maxBytes ?? 768 * 1024;
  const chunks: Message[][] = [];
  let cur: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = (m.value ? (m.value as Buffer).length : 0) + (m.key ? String(m.key).length : 0) + 64;
    if (cur.length > 0 && (cur.length >= maxCount || bytes + size > maxBytes)) {
      chunks.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(m);
    bytes += size;
  }
  if (cur.length > 0) chunks.push(cur);
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const t0 = nowMs();
  try {
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) await producer.send({ topic, acks: -1, messages: chunks[next++] });
    };
    await Promise.all(Array.from({ length: opts.inFlight ?? 4 }, worker));
  } finally {
    await producer.disconnect();
  }
  return nowMs() - t0;
}

/** Avro-encodes values for one topic (the codec must have registered its schemas). */
export async function encodeAll<T>(
  codec: AvroCodec,
  topic: string,
  items: readonly T[],
  toAvro: (t: T) => object,
): Promise<Buffer[]> {
  const out: Buffer[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) out[i] = await codec.encode(topic, toAvro(items[i]));
  return out;
}

/** Sum over partitions of (high watermark) for a topic. */
export async function topicEndOffsets(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offs = await admin.fetchTopicOffsets(topic);
    return offs.reduce((s, o) => s + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the topics with a prefix (best effort): benches leave nothing behind. */
export async function deletePrefixedTopics(kafka: Kafka, prefix: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 15_000 }).catch(() => undefined);
    return topics.length;
  } finally {
    await admin.disconnect();
  }
}

/** Ingest's node flags when its checkout's start script cannot be read (as package.json's start:ingest gives them). */
export const INGEST_FALLBACK_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=128'];

/** How a checkout starts an app: its node flags and the environment variables its start script sets. */
export interface DeployedLaunch {
  readonly nodeFlags: string[];
  readonly env: Record<string, string>;
}

/**
 * How a checkout deploys `app`: the `NAME=value` words and the node flags of its package.json
 * `start:<app>` (`[NAME=value …] node <flags> dist/apps/<app>/src/main.js`), so that a bench of
 * another checkout's apps (bench:compare's ref) runs each as that checkout deploys it. With no
 * such script, or one of another form, `fallbackFlags` and no variables.
 */
export function deployedLaunch(
  checkoutRoot: string,
  app: string,
  fallbackFlags: readonly string[] = [],
): DeployedLaunch {
  const fallback = { nodeFlags: [...fallbackFlags], env: {} };
  try {
    const pkg = JSON.parse(readFileSync(join(checkoutRoot, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    const words = (pkg.scripts?.[`start:${app}`] ?? '').split(' ').filter(Boolean);
    const node = words.indexOf('node');
    const script = words.findIndex((w) => w.endsWith('main.js'));
    const assignments = words.slice(0, Math.max(0, node));
    if (node < 0 || script < node || !assignments.every((w) => /^[A-Z_][A-Z0-9_]*=/.test(w))) return fallback;
    return {
      nodeFlags: words.slice(node + 1, script).filter((w) => w.startsWith('--')),
      env: Object.fromEntries(assignments.map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)])),
    };
  } catch {
    return fallback;
  }
}
