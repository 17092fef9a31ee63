/**
 * bench:scale:directory — the transformer's contact directory at scale (issue #11).
 *
 * For each size (BENCH_SIZES, default 100000,1000000) a fresh prefixed contacts topic is filled
 * with that many contact snapshots (the fixture contacts with distinct ids and emails, real Avro
 * through the registry and contactToAvro). Then a child process (node --expose-gc) opens
 * a Directory on an LmdbContactStore and follows the topic until ready, twice:
 *   cold: an empty store (full rebuild from the topic);
 *   warm: the store the cold run left (a restart: resumes from the stored offsets).
 * Each child prints the time to ready and, after a GC, its RSS (and RssAnon / RssFile from
 * /proc/self/status: the store's pages are file-backed, the kernel can drop them), the heap,
 * and the time of 10,000 random contact(id) lookups. An empty topic gives the baseline RSS of an
 * empty directory. Targets: ≤ 300 bytes of RSS per contact above the empty directory; ready
 * ≤ 60 s after a restart with a warm store.
 *
 * Env: BENCH_SIZES, BENCH_CACHE (DIRECTORY_CACHE_CONTACTS, default 10000), BENCH_KEEP_TOPICS=1,
 * KAFKA_BROKERS, SCHEMA_REGISTRY_URL.
 */
import { Logger } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import type { ContactSnapshot } from '@iks/domain';
import { AvroCodec, createKafka, prepareStage, contactToAvro, topicName } from '@iks/kafka';
import { loadConfig } from '@iks/config';
import { Directory, followContacts, LmdbContactStore, NO_INTERCOM_API } from '@iks/directory';
import {
  benchConfig,
  deletePrefixedTopics,
  fixtureDirectory,
  fmtInt,
  fmtMiB,
  fmtMs,
  heading,
  note,
  nowMs,
  produceMessages,
} from './bench-util';

Logger.overrideLogger(['error', 'warn']);

interface ChildResult {
  readyMs: number;
  start: string;
  reopened: boolean;
  replayed: number;
  contacts: number;
  rss: number;
  rssAnon: number;
  rssFile: number;
  heapUsed: number;
  lookupUs: number;
  storeBytes: number;
}

const CHUNK = 20_000;

async function main(): Promise<void> {
  if (process.argv[2] === '--child')
    return child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]));
  const sizes = (process.env.BENCH_SIZES ?? '100000,1000000')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => n >= 0);
  process.stdout.write(
    `bench:scale:directory  node ${process.version}, ${new Date().toISOString()}, cache ${fmtInt(cacheSize())} contacts\n`,
  );
  const rows: Array<{ size: number; run: string; r: ChildResult }> = [];
  let empty: ChildResult | undefined;
  for (const size of [0, ...sizes]) {
    const config = benchConfig('transformer');
    const prefix = config.kafka.topicPrefix;
    const kafka = createKafka(config.kafka);
    const codec = new AvroCodec(config.kafka);
    // a shared broker can answer a fresh topic's metadata late: try again
    for (let attempt = 1; ; attempt++) {
      try {
        await prepareStage(kafka, config.kafka, codec);
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    const topic = topicName('contacts', prefix);
    const t0 = nowMs();
    const run = await fill(kafka, codec, topic, size);
    if (size > 0) note(`${fmtInt(size)} snapshots produced to ${topic} in ${fmtMs(nowMs() - t0)}`);
    const storePath = join(mkdtempSync(join(tmpdir(), 'iks-scale-directory-')), 'store');
    try {
      const cold = runChild(prefix, storePath, run, size);
      if (size === 0) {
        empty = cold;
        continue;
      }
      rows.push({ size, run: cold.reopened ? 'cold (rebuild, reopened)' : 'cold (rebuild)', r: cold });
      note(`${fmtInt(size)} cold: ${JSON.stringify(cold)}`);
      const warm = runChild(prefix, storePath, run, size);
      rows.push({ size, run: 'warm (restart)', r: warm });
      note(`${fmtInt(size)} warm: ${JSON.stringify(warm)}`);
    } finally {
      rmSync(join(storePath, '..'), { recursive: true, force: true });
      if (process.env.BENCH_KEEP_TOPICS !== '1') await deletePrefixedTopics(kafka, prefix);
    }
  }
  heading('directory at scale (each run a fresh process; RSS after ready and a GC)');
  const base = empty!.rss;
  process.stdout.write(
    `empty directory: RSS ${fmtMiB(base)} (anon ${fmtMiB(empty!.rssAnon)}, file ${fmtMiB(empty!.rssFile)}), ready in ${fmtMs(empty!.readyMs)}\n\n`,
  );
  const head = [
    'contacts',
    'run',
    'ready',
    'RSS',
    'anon',
    'file',
    'heap',
    'RSS above empty / contact',
    'lookup',
    'store on disk',
  ];
  const table = rows.map(({ size, run, r }) => [
    fmtInt(size),
    run,
    fmtMs(r.readyMs),
    fmtMiB(r.rss),
    fmtMiB(r.rssAnon),
    fmtMiB(r.rssFile),
    fmtMiB(r.heapUsed),
    `${Math.round((r.rss - base) / size)} B`,
    `${r.lookupUs.toFixed(1)} µs`,
    fmtMiB(r.storeBytes),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  for (const row of [head, ...table])
    process.stdout.write(`| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |\n`);
  process.stdout.write(
    '\ntargets: ≤ 300 B of RSS per contact above the empty directory; ready ≤ 60 s with a warm store\n',
  );
}

function cacheSize(): number {
  return Number(process.env.BENCH_CACHE ?? 10_000);
}

/** `size` snapshots, in chunks (a million encoded records would not fit in memory at once). */
async function fill(
  kafka: ReturnType<typeof createKafka>,
  codec: AvroCodec,
  topic: string,
  size: number,
): Promise<string> {
  const templates = fixtureDirectory().contacts;
  const run = randomBytes(3).toString('hex');
  for (let from = 0; from < size; from += CHUNK) {
    const messages: Message[] = [];
    for (let i = from; i < Math.min(size, from + CHUNK); i++) {
      const c = structuredClone(templates[i % templates.length]);
      const id = contactId(run, i);
      c.id = id;
      if (typeof c.email === 'string') c.email = c.email.replace('@', `+${i}@`);
      if (c.external_id) c.external_id = `${c.external_id}-${i}`;
      const s: ContactSnapshot = { id, deleted: false, contact_json: JSON.stringify(c), recorded_at: Date.now() };
      messages.push({ key: id, value: await codec.encode(topic, contactToAvro(s)) });
    }
    await produceMessages(kafka, topic, messages, { maxCount: 5000, maxBytes: 4 * 1024 * 1024, inFlight: 4 });
  }
  return run;
}

/** 24 hex digits, like Intercom's contact ids. */
function contactId(run: string, i: number): string {
  return `${run}${i.toString(16).padStart(18, '0')}`;
}

function runChild(prefix: string, storePath: string, run: string, size: number): ChildResult {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', __filename, '--child', prefix, storePath, run, String(size)],
    {
      encoding: 'utf8',
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const last = out.trim().split('\n').pop()!;
  return JSON.parse(last) as ChildResult;
}

/** One transformer start, as far as the directory goes. */
async function child(prefix: string, storePath: string, run: string, size: number): Promise<void> {
  const config = loadConfig({ ...process.env, TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' }, 'transformer');
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  const topic = topicName('contacts', prefix);
  const t0 = nowMs();
  const directory = new Directory(NO_INTERCOM_API, 60_000, {
    store: LmdbContactStore.open(storePath, topic),
    cacheContacts: cacheSize(),
  });
  const follower = await followContacts({ kafka, codec, topic, groupPrefix: `${prefix}bench.directory`, directory });
  const readyMs = nowMs() - t0;
  // random lookups through the cache and the store, as the mapping does
  const n = directory.stats.contacts;
  const ids = Array.from({ length: Math.min(size, 10_000) }, () => contactId(run, Math.floor(Math.random() * size)));
  const l0 = process.hrtime.bigint();
  let found = 0;
  for (const id of ids) if (directory.contact(id)) found++;
  const lookupUs = ids.length ? Number(process.hrtime.bigint() - l0) / 1000 / ids.length : 0;
  if (found !== ids.length) throw new Error(`only ${found} of ${ids.length} sampled contacts found`);
  global.gc?.();
  global.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  const result: ChildResult = {
    readyMs,
    start: follower.start,
    reopened: follower.reopened,
    replayed: follower.replayed,
    contacts: n,
    rss: process.memoryUsage().rss,
    rssAnon: kb('RssAnon'),
    rssFile: kb('RssFile'),
    heapUsed: process.memoryUsage().heapUsed,
    lookupUs,
    storeBytes: diskBytes(storePath),
  };
  await follower.consumer.disconnect();
  await directory.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function diskBytes(path: string): number {
  const out = execFileSync('du', ['-sb', path], { encoding: 'utf8' });
  return Number(out.split(/\s/)[0]);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
