/**
 * bench (end to end) — signed Intercom webhooks through ingest → Kafka → transformer → Kafka →
 * sink → the Klaviyo emulator (rate limits off), all on this machine over loopback.
 *
 * Setup: a fresh TOPIC_PREFIX and group ids, free ports, topics created and schemas registered,
 * then the Klaviyo emulator (KLAVIYO_EMULATOR_LIMITS=off) and the three BUILT apps as child
 * processes (node dist/apps/<app>/src/main.js) without INTERCOM_ACCESS_TOKEN: the transformer
 * learns the contacts from contact.user.created webhooks, which are sent (and waited for as
 * Klaviyo profiles) before anything that references them.
 *
 * Phase 1 (throughput): BENCH_N (default 20,000) webhooks — conversation lifecycles (created,
 * replied, read, rated: 4 events) and ticket lifecycles (created, submitted, waiting, replied,
 * resolved by state.updated + ticket.resolved: 6 webhooks, 5 events) — sent as fast as ingest takes
 * them (BENCH_CONCURRENCY requests in flight, keep-alive). Prints webhooks/s accepted (HTTP 200),
 * events/s delivered (Klaviyo emulator's stored-event count over time), latency percentiles.
 * Phase 2 (latency at a fixed rate): BENCH_RATE (default 1,000) webhooks/s for BENCH_RATE_S
 * (default 20) seconds, open loop (sent on a 10 ms schedule whatever the answers), p50/p99.
 *
 * Latency method: every webhook's send time is recorded; the Klaviyo emulator stamps each stored
 * event with `receivedAt` (its Date.now() when the sink's request arrived, same clock). After a
 * phase, all events are read back (GET /__emulator/events, paged by offset) and matched to the
 * webhook(s) that produce them by (metric, Conversation ID / Ticket ID); latency = receivedAt −
 * earliest send time of those webhooks. Resolution 1 ms; no polling bias.
 *
 * Bottleneck view: every second, the end offsets of the raw and events topics and the committed
 * offsets of the transformer and sink groups are sampled next to the accepted webhooks and the
 * emulator's event count; printed as a timeline (which stage's lag grows).
 *
 * Baseline: the same number of messages, of the same average size, produced and consumed with
 * plain kafkajs on the same broker (one fresh 3-partition topic); pipeline/baseline ratio.
 *
 * Peak RSS per app: VmHWM from /proc/<pid>/status of each child just before it is stopped.
 *
 * Cost per event (issue #20), per phase: CPU time (utime + stime from /proc/<pid>/stat) of each
 * app, the broker and the registry, taken at the phase's first send and again when the emulator
 * holds the phase's last event, divided by the events delivered in the phase: marginal in that
 * start-up and set-up are outside the window; the processes' idle CPU (timers, heartbeats, and on
 * this shared machine other users of the broker) is inside it, so it is measured over
 * BENCH_IDLE_S seconds before phase 1 and printed beside. Bytes written to the broker per event:
 * growth of the log segments (*.log files) of the run's topics (its fresh TOPIC_PREFIX) in the
 * broker's data directory, found from the broker process (tools/support/stack-process.ts; the
 * stack may run from another checkout), over the same window. The baseline's CPU (this process:
 * producer + consumer) and broker bytes per message give the ratios. Every figure is also printed
 * as a `figure <name> <value> <unit>` line (tools/support/bench-figures.ts) for bench:compare.
 *
 * CPU profiles: BENCH_CPU_PROF=<dir> preloads bench/support/cpu-prof-preload.js into the apps and
 * profiles each of them during phase 1 only (IPC messages at the first send and at the last event);
 * <dir>/<app>.cpuprofile, summarised by `npm run bench:profile -- <dir>/*.cpuprofile`.
 * Memory: BENCH_MEM_TRACE=<dir> preloads bench/support/mem-trace-preload.js into the apps, which
 * sample memoryUsage() every 50 ms; the bench prints what each peak RSS was made of (V8 heap,
 * external buffers, the rest). BENCH_MEM_SNAPSHOT=<app>:<MiB> has that app write a heap snapshot
 * the first time its RSS passes MiB (<dir>/<app>.mem.json.heapsnapshot).
 *
 * Apps: the built apps of this checkout, or of BENCH_APPS_DIST (another checkout's dist/, as
 * bench:compare runs an older ref's apps under this harness); the Klaviyo emulator is always
 * this checkout's. Ingest runs with the node flags it is deployed with (start:ingest, the
 * supervisor), or BENCH_INGEST_NODE_FLAGS (`none`: no flags).
 *
 * Env: BENCH_N, BENCH_CONCURRENCY (64), BENCH_RATE (1000), BENCH_RATE_S (20), BENCH_COOLDOWN_S (61), BENCH_CONTACTS (500),
 * BENCH_TIMEOUT_S (180, per wait), BENCH_IDLE_S (3), BENCH_SKIP_BASELINE=1, BENCH_CPU_PROF, BENCH_BREAKDOWN=1
 * (each phase's latency by stage, support/latency-breakdown.ts), BENCH_APPS_DIST,
 * BENCH_INGEST_NODE_FLAGS, STACK_DIR / KAFKA_DATA_DIR (where the stack is, when it cannot be found), KAFKA_BROKERS,
 * SCHEMA_REGISTRY_URL.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { Partitioners, type Kafka } from 'kafkajs';
import { loadConfig } from '@iks/config';
import { AvroCodec, createKafka, ensureTopics, topicName } from '@iks/kafka';
import type { IntercomContact } from '@iks/intercom';
import {
  contactNotification,
  conversationLifecycle,
  makeAdmin,
  makeContact,
  makeTeam,
  signBody,
  ticketLifecycle,
  type IntercomNotification,
} from '../tools/intercom-emulator/src';
import { freePort } from '../test/support/free-port';
import { freshTopicEnv } from '../test/support/test-config';
import { formatFigure } from '../tools/support/bench-figures';
import { EnvReader } from '../tools/support/env-reader';
import { findStackProcesses, topicLogBytes } from '../tools/support/stack-process';
import { waitHttp, waitUntil } from '../tools/support/wait-for';
import {
  deletePrefixedTopics,
  deployedLaunch,
  INGEST_FALLBACK_FLAGS,
  envInt,
  fmtInt,
  fmtMiB,
  heading,
  line,
  note,
  percentiles,
  sleep,
} from './bench-util';
import { ChildProcesses, vmHwm } from './support/child-processes';
import { printBreakdown, readTopicSince } from './support/latency-breakdown';

const ROOT = resolve(__dirname, __dirname.includes(join('dist', 'bench')) ? '../..' : '..');
const DIST = join(ROOT, 'dist');
const SECRET = 'bench-e2e-secret';
const TARGET_EVENTS_PER_S = 2_500;
const TARGET_P99_MS = 1_000;
const TARGET_APPS_CPU_MS = 0.3;

const N = envInt('BENCH_N', 20_000);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 64);
const RATE = envInt('BENCH_RATE', 1_000);
const RATE_S = envInt('BENCH_RATE_S', 20);
const CONTACTS = envInt('BENCH_CONTACTS', 500);
const TIMEOUT_MS = envInt('BENCH_TIMEOUT_S', 180) * 1000;
const IDLE_S = envInt('BENCH_IDLE_S', 3);
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const REGISTRY = process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7';

const knobs = new EnvReader();
/** The dist/ whose apps run (bench:compare points it at an older ref's build). */
const APPS_DIST = resolve(knobs.string('BENCH_APPS_DIST', DIST));
/** Each app as the checkout of APPS_DIST deploys it: its package.json start:<app> (node flags, variables such as MALLOC_ARENA_MAX). */
const LAUNCH = {
  ingest: deployedLaunch(resolve(APPS_DIST, '..'), 'ingest', INGEST_FALLBACK_FLAGS),
  transformer: deployedLaunch(resolve(APPS_DIST, '..'), 'transformer'),
  sink: deployedLaunch(resolve(APPS_DIST, '..'), 'sink'),
};
/** Ingest's node flags as deployed (LAUNCH), or BENCH_INGEST_NODE_FLAGS. */
const INGEST_NODE_FLAGS = ((f) =>
  f === undefined ? LAUNCH.ingest.nodeFlags : f === 'none' ? [] : f.split(' ').filter(Boolean))(
  knobs.string('BENCH_INGEST_NODE_FLAGS'),
);
const CPU_PROF_DIR = knobs.string('BENCH_CPU_PROF');
/** BENCH_MEM_TRACE=<dir>: the apps sample their memoryUsage() (bench/support/mem-trace-preload) and the bench prints what each peak RSS was made of. */
const MEM_TRACE_DIR = knobs.string('BENCH_MEM_TRACE');
/** BENCH_MEM_SNAPSHOT=<app>:<MiB> (with BENCH_MEM_TRACE): that app writes a heap snapshot the first time its RSS passes MiB. */
const MEM_SNAPSHOT = knobs.string('BENCH_MEM_SNAPSHOT');
/** BENCH_BREAKDOWN=1: after each phase, read the raw and events topics back and print the latency per stage (adds seconds between the phases). */
const BREAKDOWN = knobs.string('BENCH_BREAKDOWN') === '1';
const STACK = findStackProcesses(BROKERS, REGISTRY, {
  STACK_DIR: knobs.string('STACK_DIR'),
  KAFKA_DATA_DIR: knobs.string('KAFKA_DATA_DIR'),
});
knobs.done();
const PROFILED = ['ingest', 'transformer', 'sink'];

// ------------------------------------------------------------------------------ children

const children = new ChildProcesses();

/** An app of APPS_DIST (with the profiling preload under BENCH_CPU_PROF), or a tool of this checkout. */
function startChild(name: string, script: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []) {
  const isApp = script.startsWith('apps/');
  const flags = [...nodeFlags];
  // what the app's start script sets wins, as it does under npm
  let childEnv = isApp && name in LAUNCH ? { ...env, ...LAUNCH[name as keyof typeof LAUNCH].env } : env;
  if (CPU_PROF_DIR && PROFILED.includes(name)) {
    flags.push('--require', join(DIST, 'bench', 'support', 'cpu-prof-preload.js'));
    childEnv = { ...childEnv, BENCH_CPU_PROF_FILE: join(CPU_PROF_DIR, `${name}.cpuprofile`) };
  }
  if (MEM_TRACE_DIR && PROFILED.includes(name)) {
    mkdirSync(MEM_TRACE_DIR, { recursive: true });
    flags.push('--require', join(DIST, 'bench', 'support', 'mem-trace-preload.js'));
    childEnv = { ...childEnv, BENCH_MEM_TRACE_FILE: join(MEM_TRACE_DIR, `${name}.mem.json`) };
    const [app, mib] = (MEM_SNAPSHOT ?? '').split(':');
    if (app === name) childEnv.BENCH_MEM_SNAPSHOT_MIB = mib;
  }
  const ipc = CPU_PROF_DIR !== undefined && PROFILED.includes(name);
  return children.start(name, join(isApp ? APPS_DIST : DIST, script), childEnv, {
    verbose: process.env.BENCH_VERBOSE === '1',
    nodeFlags: flags,
    ipc,
  });
}

/** What each traced app's peak RSS was made of (BENCH_MEM_TRACE). */
function printMemTraces(dir: string): void {
  heading(`memoryUsage() at each app's peak RSS, and each part's own maximum (${resolve(dir)})`);
  for (const name of PROFILED) {
    try {
      const t = JSON.parse(readFileSync(join(dir, `${name}.mem.json`), 'utf8')) as {
        atPeak: NodeJS.MemoryUsage & { atMs: number };
        max: NodeJS.MemoryUsage;
      };
      const p = t.atPeak;
      const rest = p.rss - p.heapTotal - p.external;
      line(
        name,
        `at ${(p.atMs / 1000).toFixed(1)} s: rss ${fmtMiB(p.rss)} = heap ${fmtMiB(p.heapTotal)} (used ${fmtMiB(p.heapUsed)}) + external ${fmtMiB(p.external)} (buffers ${fmtMiB(p.arrayBuffers)}) + other ${fmtMiB(rest)}; max heapUsed ${fmtMiB(t.max.heapUsed)}, external ${fmtMiB(t.max.external)}`,
      );
    } catch (err) {
      line(name, `no trace (${(err as Error).message})`);
    }
  }
}

let profiling = false;
/** Starts the profiled apps' profilers, or (the second time) has them write their profiles. */
function toggleProfilers(): void {
  if (!CPU_PROF_DIR) return;
  for (const c of children.children)
    if (PROFILED.includes(c.name) && c.proc.connected) c.proc.send(profiling ? 'cpu-prof:stop' : 'cpu-prof:start');
  profiling = !profiling;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** The stack's broker and registry pids, to account their CPU too. */
function stackPids(): Record<string, number> {
  const pids: Record<string, number> = {};
  if (STACK.kafkaPid) pids.kafka = STACK.kafkaPid;
  if (STACK.registryPid) pids.registry = STACK.registryPid;
  return pids;
}

type CpuSnap = Record<string, number>;
function cpuSnap(): CpuSnap {
  const snap: CpuSnap = {};
  for (const c of children.children) {
    const v = cpuSeconds(c.proc.pid);
    if (v !== undefined) snap[c.name] = v;
  }
  for (const [name, pid] of Object.entries(stackPids())) {
    const v = cpuSeconds(pid);
    if (v !== undefined) snap[name] = v;
  }
  const u = process.cpuUsage();
  snap[LOADGEN] = (u.user + u.system) / 1e6;
  return snap;
}

const LOADGEN = 'load-generator';

/** Log segment bytes of this run's topics (by topic, prefix cut), or null when the data dir is unknown. */
function logBytes(prefix: string): Map<string, number> | null {
  if (!STACK.kafkaDataDir) return null;
  try {
    const out = new Map<string, number>();
    for (const [t, b] of topicLogBytes(STACK.kafkaDataDir, prefix)) out.set(t.slice(prefix.length), b);
    return out;
  } catch {
    return null;
  }
}

function bytesGrowth(
  before: Map<string, number> | null,
  after: Map<string, number> | null,
): Map<string, number> | null {
  if (!before || !after) return null;
  const out = new Map<string, number>();
  for (const [t, b] of after) out.set(t, b - (before.get(t) ?? 0));
  return out;
}

// ------------------------------------------------------------------------------ figures

/** The machine-readable figures of this run, printed together at the end. */
const figures: string[] = [];
function figure(name: string, value: number, unit: string): void {
  figures.push(formatFigure(name, value, unit));
}

/** The CPU-s deltas of a window per process. */
function cpuDelta(before: CpuSnap, after: CpuSnap): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(after)) if (before[k] !== undefined) out[k] = after[k] - before[k];
  return out;
}

const APPS = ['ingest', 'transformer', 'sink'] as const;

interface Cost {
  /** CPU-ms per delivered event, by process, and 'apps' (the three apps). */
  readonly cpuMsPerEvent: Record<string, number>;
  readonly bytesPerEvent: number | null;
}

/**
 * The phase's cost per delivered event: CPU-ms of each process over the window, bytes appended
 * to the run's topics; printed as a table and as `figure <tag>.…` lines.
 */
function reportCost(tag: string, r: PhaseResult, idleMsPerS: Record<string, number> | null): Cost {
  const events = r.events.length;
  const d = cpuDelta(r.cpuBefore, r.cpuAfter);
  const wallS = r.windowMs / 1000;
  const perEvent: Record<string, number> = {};
  for (const [k, v] of Object.entries(d)) perEvent[k] = events > 0 ? (v * 1000) / events : NaN;
  perEvent.apps = APPS.reduce((s, a) => s + (perEvent[a] ?? NaN), 0);
  note(
    `cost per delivered event (${fmtInt(events)} events; /proc CPU deltas from the first send to the last event, ${wallS.toFixed(1)} s;` +
      ` "less idle" subtracts each process's CPU rate measured idle before phase 1 × the window):`,
  );
  note(
    `  ${'process'.padEnd(16)} ${'CPU-s'.padStart(7)} ${'CPU-ms/event'.padStart(13)} ${'less idle'.padStart(10)} ${'idle ms/s'.padStart(10)}`,
  );
  for (const k of [...APPS, 'apps', 'kafka', 'registry', 'klaviyo-emulator', LOADGEN]) {
    const cpuS = k === 'apps' ? APPS.reduce((s, a) => s + (d[a] ?? NaN), 0) : d[k];
    if (cpuS === undefined) continue;
    const idle = k === 'apps' ? APPS.reduce((s, a) => s + (idleMsPerS?.[a] ?? NaN), 0) : idleMsPerS?.[k];
    const lessIdle = idle === undefined || !events ? NaN : (cpuS * 1000 - idle * wallS) / events;
    note(
      `  ${(k === 'apps' ? 'three apps' : k).padEnd(16)} ${cpuS.toFixed(2).padStart(7)} ${perEvent[k].toFixed(3).padStart(13)} ${Number.isNaN(lessIdle) ? '       n/a' : lessIdle.toFixed(3).padStart(10)} ${idle === undefined || Number.isNaN(idle) ? '       n/a' : idle.toFixed(1).padStart(10)}`,
    );
    figure(`${tag}.cpu_ms_per_event.${k}`, perEvent[k], 'CPU-ms/event');
    if (!Number.isNaN(lessIdle)) figure(`${tag}.cpu_ms_per_event_less_idle.${k}`, lessIdle, 'CPU-ms/event');
  }
  if (!STACK.kafkaPid) note('  (no broker CPU: its process was not found; see "stack" above)');
  let bytesPerEvent: number | null = null;
  if (r.bytes && events > 0) {
    const total = [...r.bytes.values()].reduce((s, b) => s + b, 0);
    bytesPerEvent = total / events;
    note(
      `broker bytes appended per delivered event (log segments of the run's topics): ${fmtInt(bytesPerEvent)} B  (${fmtMiB(total)} in all)`,
    );
    const byTopic = [...r.bytes].filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]);
    note(`  ${byTopic.map(([t, b]) => `${t} ${fmtInt(b / events)}`).join(', ')}`);
    figure(`${tag}.broker_bytes_per_event`, bytesPerEvent, 'B/event');
    for (const [t, b] of byTopic) figure(`${tag}.broker_bytes_per_event.${t}`, b / events, 'B/event');
  } else {
    note("broker bytes per event: n/a (the broker's data directory was not found; set KAFKA_DATA_DIR)");
  }
  figure(`${tag}.events_delivered`, events, 'events');
  figure(`${tag}.window_s`, wallS, 's');
  return { cpuMsPerEvent: perEvent, bytesPerEvent };
}

function printCpu(before: CpuSnap, after: CpuSnap, wallMs: number): void {
  const parts = Object.keys(after)
    .filter((k) => before[k] !== undefined)
    .map((k) => [k, after[k] - before[k]] as const)
    .sort((a, b) => b[1] - a[1]);
  const total = parts.reduce((s, [, v]) => s + v, 0);
  note(
    `CPU seconds used during the phase (wall ${(wallMs / 1000).toFixed(1)} s, 2 cores = ${((2 * wallMs) / 1000).toFixed(1)} CPU-s available; total ${total.toFixed(1)}):`,
  );
  note(
    `  ${parts.map(([k, v]) => `${k} ${v.toFixed(1)} (${((v / (wallMs / 1000)) * 100).toFixed(0)} % of a core)`).join(', ')}`,
  );
}

// ------------------------------------------------------------------------------ webhooks

interface Prepared {
  /** The notification's id (the raw record's notification_id). */
  id: string;
  body: Buffer;
  signature: string;
  /** `${metric}|${entity id}`, or null for notifications that produce no event (contacts) */
  eventKey: string | null;
  sentAt: number;
  status: number;
}

const CONV_METRIC: Record<string, string> = {
  'conversation.user.created': 'Conversation Created',
  'conversation.user.replied': 'Replied to Conversation',
  'conversation.read': 'Read Conversation',
  'conversation.rating.added': 'Conversation Rated',
};
const TICKET_METRICS = [
  'Ticket Created',
  'Ticket Submitted',
  'Ticket Marked as Waiting',
  'Replied to Ticket',
  'Ticket Resolved',
  'Ticket Resolved',
];

function prepare(n: IntercomNotification, eventKey: string | null): Prepared {
  const body = Buffer.from(JSON.stringify(n));
  return { id: n.id, body, signature: signBody(body, SECRET), eventKey, sentAt: 0, status: 0 };
}

let idCounter = 1_000_000_000 + randomInt(0, 100_000_000);

/** Webhooks for `count` notifications: alternating conversation (4) and ticket (6) lifecycles of the contacts. */
function buildWebhooks(count: number, contacts: IntercomContact[]): { webhooks: Prepared[]; expectedEvents: number } {
  const admin = makeAdmin({ name: 'Bench Admin' });
  const team = makeTeam({ name: 'Support' });
  const out: Prepared[] = [];
  const keys = new Set<string>();
  const startAt = Math.floor(Date.now() / 1000) - 3 * 3600;
  let i = 0;
  while (out.length < count) {
    const contact = contacts[i % contacts.length];
    const id = String(idCounter++);
    if (i % 2 === 0) {
      for (const n of conversationLifecycle({ contact, admin, team, startAt, seed: idCounter, id })) {
        if (out.length >= count) break;
        const k = `${CONV_METRIC[n.topic]}|${id}`;
        keys.add(k);
        out.push(prepare(n, k));
      }
    } else {
      ticketLifecycle({ contact, admin, team, startAt, seed: idCounter, id }).forEach((n, j) => {
        if (out.length >= count) return;
        const k = `${TICKET_METRICS[j]}|${id}`;
        keys.add(k);
        out.push(prepare(n, k));
      });
    }
    i++;
  }
  return { webhooks: out, expectedEvents: keys.size };
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function post(url: URL, w: Prepared): Promise<number> {
  return new Promise((res) => {
    w.sentAt = Date.now();
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': w.body.length,
          'X-Hub-Signature': w.signature,
        },
      },
      (r) => {
        r.resume();
        r.on('end', () => {
          w.status = r.statusCode ?? 0;
          res(w.status);
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      w.status = -1;
      res(-1);
    });
    req.end(w.body);
  });
}

/** Closed loop: `concurrency` requests in flight. Returns the ms from first send to last answer. */
async function sendAll(url: URL, ws: Prepared[], concurrency: number): Promise<number> {
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < ws.length) await post(url, ws[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ws.length) }, worker));
  return Date.now() - t0;
}

/** Open loop: `rate` per second on a 10 ms schedule, whatever the answers. */
async function sendAtRate(url: URL, ws: Prepared[], rate: number): Promise<number> {
  const t0 = Date.now();
  const pending: Promise<number>[] = [];
  let sent = 0;
  while (sent < ws.length) {
    const due = Math.min(ws.length, Math.floor(((Date.now() - t0) / 1000) * rate) + 1);
    while (sent < due) pending.push(post(url, ws[sent++]));
    await sleep(10 - ((Date.now() - t0) % 10));
  }
  await Promise.all(pending);
  return Date.now() - t0;
}

// ------------------------------------------------------------------------------ emulator reads

interface EmuStats {
  eventsStored: number;
  profiles: number;
  duplicateEventsIgnored: number;
}

async function emuStats(base: string): Promise<EmuStats> {
  const r = await fetch(`${base}/__emulator/stats`, { signal: AbortSignal.timeout(5000) });
  return (await r.json()) as EmuStats;
}

interface EmuEvent {
  metric: string;
  unique_id: string;
  properties: Record<string, unknown>;
  receivedAt: string;
}

async function emuEventsFrom(base: string, offset: number): Promise<EmuEvent[]> {
  const out: EmuEvent[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const r = await fetch(`${base}/__emulator/events?offset=${offset + out.length}&limit=5000`, {
      signal: AbortSignal.timeout(30_000),
    });
    const page = (await r.json()) as { total: number; data: EmuEvent[] };
    out.push(...page.data);
    if (page.data.length === 0 || offset + out.length >= page.total) break;
  }
  return out;
}

interface EmuRequest {
  at: string;
  endpoint: string;
  status: number;
  events?: number;
}

/** What the sink sent Klaviyo since `sinceMs`: requests per endpoint, events per bulk request, busiest minute. */
async function printSinkRequests(base: string, sinceMs: number): Promise<number | null> {
  let bulkAvg: number | null = null;
  const r = await fetch(`${base}/__emulator/requests`, { signal: AbortSignal.timeout(30_000) });
  const all = ((await r.json()) as { data: EmuRequest[] }).data.filter((x) => Date.parse(x.at) >= sinceMs);
  const by = new Map<string, EmuRequest[]>();
  for (const x of all) by.set(x.endpoint, [...(by.get(x.endpoint) ?? []), x]);
  for (const [endpoint, xs] of by) {
    const evs = xs.map((x) => x.events ?? 0).filter((n) => n > 0);
    const perSec = new Map<number, number>();
    for (const x of xs)
      perSec.set(Math.floor(Date.parse(x.at) / 1000), (perSec.get(Math.floor(Date.parse(x.at) / 1000)) ?? 0) + 1);
    const statuses = [...new Set(xs.map((x) => x.status))].join(',');
    if (endpoint === 'bulk_create_events' && evs.length) bulkAvg = evs.reduce((a, b) => a + b, 0) / evs.length;
    note(
      `Klaviyo ${endpoint}: ${fmtInt(xs.length)} requests (status ${statuses}), busiest second ${Math.max(...perSec.values())}` +
        (evs.length
          ? `, events/request avg ${(evs.reduce((a, b) => a + b, 0) / evs.length).toFixed(0)}, max ${Math.max(...evs)}`
          : ''),
    );
  }
  if (bulkAvg !== null) {
    note(
      `at ${bulkAvg.toFixed(0)} events/request the sink's own budget for bulk_create_events (burst 10/s, steady 150/min) allows ` +
        `${fmtInt(bulkAvg * 10)} events/s for a second and ${fmtInt((bulkAvg * 150) / 60)} events/s over a minute (full 1,000-event requests: 10,000 and 2,500)`,
    );
  }
  return bulkAvg;
}

// ------------------------------------------------------------------------------ offsets timeline

interface Sample {
  t: number;
  accepted: number;
  rawEnd: number;
  transformerCommitted: number;
  eventsEnd: number;
  sinkCommitted: number;
  klaviyo: number;
}

class Timeline {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private readonly admin;
  constructor(
    private readonly kafka: Kafka,
    private readonly topics: { raw: string; events: string },
    private readonly groups: { transformer: string; sink: string },
    private readonly emu: string,
    private readonly accepted: () => number,
  ) {
    this.admin = kafka.admin();
  }
  async start(t0: number): Promise<void> {
    await this.admin.connect();
    await this.sample(t0); // the counts before the phase: the timeline prints differences from it
    this.timer = setInterval(() => void this.sample(t0), 1000);
  }
  private async end(topic: string): Promise<number> {
    return (await this.admin.fetchTopicOffsets(topic)).reduce((s, o) => s + Number(o.high), 0);
  }
  private async committed(groupId: string, topic: string): Promise<number> {
    const r = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return r.flatMap((t) => t.partitions).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  }
  async sample(t0: number): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const [rawEnd, transformerCommitted, eventsEnd, sinkCommitted, stats] = await Promise.all([
        this.end(this.topics.raw),
        this.committed(this.groups.transformer, this.topics.raw),
        this.end(this.topics.events),
        this.committed(this.groups.sink, this.topics.events),
        emuStats(this.emu),
      ]);
      this.samples.push({
        t: Date.now() - t0,
        accepted: this.accepted(),
        rawEnd,
        transformerCommitted,
        eventsEnd,
        sinkCommitted,
        klaviyo: stats.eventsStored,
      });
    } catch {
      /* skip a sample */
    } finally {
      this.busy = false;
    }
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await sleep(20);
    await this.admin.disconnect();
  }
}

// ------------------------------------------------------------------------------ phases

/** What both phases share: where to send, what to watch. */
interface Rig {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly prefix: string;
  readonly topics: { raw: string; events: string };
  readonly groups: { transformer: string; sink: string };
  readonly klaviyoUrl: string;
  readonly webhookUrl: URL;
}

interface PhaseSpec {
  readonly webhooks: Prepared[];
  readonly expectedEvents: number;
  /** Sends every webhook; resolves with the ms from first send to last answer. */
  readonly send: (url: URL, ws: Prepared[]) => Promise<number>;
  /** Prints what was accepted, right after sending. */
  readonly reportSent: (accepted: number, sendMs: number) => void;
  /** How long to wait for the events after sending; stop early when the count stalls this long. */
  readonly deadline: (t0: number, sendMs: number) => number;
  readonly stallMs?: number;
  /** Prints what was delivered, before the timeline, CPU and request figures both phases print. */
  readonly reportDelivered: (result: PhaseResult) => void;
}

interface PhaseResult {
  readonly t0: number;
  readonly sendMs: number;
  /** /proc CPU seconds at the first send and when the phase's last event was stored. */
  readonly cpuBefore: CpuSnap;
  readonly cpuAfter: CpuSnap;
  readonly windowMs: number;
  /** Log bytes appended to the run's topics over the same window, by topic (null: data dir unknown). */
  readonly bytes: Map<string, number> | null;
  readonly events: EmuEvent[];
  readonly lat: ReturnType<typeof latencies>;
  readonly samples: Sample[];
}

/**
 * One phase: send the webhooks while sampling the offsets timeline, wait for their events in the
 * Klaviyo emulator, match them to their webhooks, then print the phase's figures.
 */
async function runPhase(
  rig: Rig,
  spec: PhaseSpec,
  tag: 'p1' | 'p2',
  opts: { profile?: boolean } = {},
): Promise<PhaseResult> {
  const base = (await emuStats(rig.klaviyoUrl)).eventsStored;
  const bytesBefore = logBytes(rig.prefix);
  if (opts.profile) toggleProfilers();
  const cpuBefore = cpuSnap();
  const t0 = Date.now();
  let cpuAfter: CpuSnap | null = null;
  let bytesAfter: Map<string, number> | null = null;
  let tEnd = 0;
  let accepted = 0;
  const countAccepted = () => (accepted = spec.webhooks.reduce((s, w) => s + (w.status === 200 ? 1 : 0), 0));
  const timeline = new Timeline(rig.kafka, rig.topics, rig.groups, rig.klaviyoUrl, () => accepted);
  let sendMs: number;
  try {
    await timeline.start(t0);
    const acceptTimer = setInterval(countAccepted, 250);
    sendMs = await spec.send(rig.webhookUrl, spec.webhooks).finally(() => clearInterval(acceptTimer));
    spec.reportSent(countAccepted(), sendMs);

    const want = base + spec.expectedEvents;
    const deadline = spec.deadline(t0, sendMs);
    let last = -1;
    let lastChange = Date.now();
    await waitUntil(
      async () => {
        const stored = (await emuStats(rig.klaviyoUrl)).eventsStored;
        if (stored >= want) {
          // the last event is in: close the cost window now (before the timeline's last sample)
          cpuAfter = cpuSnap();
          tEnd = Date.now();
          bytesAfter = logBytes(rig.prefix);
          if (opts.profile) toggleProfilers();
        }
        if (stored !== last) lastChange = Date.now();
        last = stored;
        return stored >= want || Date.now() - lastChange >= (spec.stallMs ?? Infinity);
      },
      { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 200 },
    );
    await timeline.sample(t0);
  } finally {
    await timeline.stop();
  }
  if (!cpuAfter) {
    // stalled or timed out short of the expected count: the window ends now
    note('the phase ended short of its expected events: the cost window ends when the wait gave up');
    cpuAfter = cpuSnap();
    tEnd = Date.now();
    bytesAfter = logBytes(rig.prefix);
    if (opts.profile) toggleProfilers();
  }
  const events = await emuEventsFrom(rig.klaviyoUrl, base);
  const result: PhaseResult = {
    t0,
    sendMs,
    cpuBefore,
    cpuAfter,
    windowMs: tEnd - t0,
    bytes: bytesGrowth(bytesBefore, bytesAfter),
    events,
    lat: latencies(events, spec.webhooks),
    samples: timeline.samples,
  };
  spec.reportDelivered(result);
  printTimeline(result.samples);
  printCpu(cpuBefore, cpuAfter, result.windowMs);
  await printSinkRequests(rig.klaviyoUrl, t0);
  if (BREAKDOWN) await breakdown(rig, spec, result, tag);
  return result;
}

/** BENCH_BREAKDOWN: the phase's latency per stage, from the topics' timestamps (support/latency-breakdown.ts). */
async function breakdown(rig: Rig, spec: PhaseSpec, result: PhaseResult, tag: string): Promise<void> {
  const [raw, events] = await Promise.all([
    readTopicSince(rig.kafka, rig.codec, rig.topics.raw, result.t0),
    readTopicSince(rig.kafka, rig.codec, rig.topics.events, result.t0),
  ]);
  const r = await fetch(`${rig.klaviyoUrl}/__emulator/requests`, { signal: AbortSignal.timeout(30_000) });
  const requests = ((await r.json()) as { data: EmuRequest[] }).data
    .filter((x) => x.endpoint === 'bulk_create_events' && Date.parse(x.at) >= result.t0)
    .map((x) => ({ at: Date.parse(x.at), events: x.events ?? 0 }));
  const figures = printBreakdown({
    sentAt: new Map(spec.webhooks.filter((w) => w.status === 200).map((w) => [w.id, w.sentAt])),
    raw,
    events,
    delivered: result.events,
    requests,
  });
  for (const [k, v] of Object.entries(figures)) figure(`${tag}.stage.${k}`, v, 'ms');
}

/** Phase 1 (throughput): N webhooks closed loop, CONCURRENCY in flight. */
function throughputPhase(contacts: IntercomContact[]): PhaseSpec & { avgBytes: number } {
  const { webhooks, expectedEvents } = buildWebhooks(N, contacts);
  const avgBytes = webhooks.reduce((s, w) => s + w.body.length, 0) / webhooks.length;
  heading(`phase 1: ${fmtInt(N)} webhooks as fast as ingest takes them (${CONCURRENCY} in flight)`);
  note(
    `mix: conversation lifecycles (4 webhooks → 4 events) and ticket lifecycles (6 webhooks → 5 events); ${fmtInt(expectedEvents)} events expected; avg body ${fmtInt(avgBytes)} B`,
  );
  return {
    webhooks,
    expectedEvents,
    avgBytes,
    send: (url, ws) => sendAll(url, ws, CONCURRENCY),
    reportSent: (accepted, sendMs) => {
      const rejected = webhooks.length - accepted;
      line(
        'webhooks accepted (HTTP 200)',
        `${fmtInt(accepted)}/${fmtInt(N)}${rejected ? ` (${rejected} not: ${[...new Set(webhooks.filter((w) => w.status !== 200).map((w) => w.status))].join(',')})` : ''}`,
      );
      line('webhooks/s accepted', `${fmtInt(accepted / (sendMs / 1000))} /s  (${(sendMs / 1000).toFixed(1)} s)`);
    },
    deadline: (t0, sendMs) => t0 + TIMEOUT_MS + sendMs,
    stallMs: 75_000,
    reportDelivered: ({ t0, events, lat, samples }) => {
      const deliverMs = lat.lastReceived - t0;
      line(
        'events delivered',
        `${fmtInt(events.length)}/${fmtInt(expectedEvents)}${events.length < expectedEvents ? '  (MISSING some)' : ''}`,
      );
      line(
        'events/s delivered (first send → last event)',
        `${fmtInt(events.length / (deliverMs / 1000))} /s  (${(deliverMs / 1000).toFixed(1)} s)   target ≥ ${fmtInt(TARGET_EVENTS_PER_S)} /s`,
      );
      const steady = steadyRate(samples);
      if (steady) line('events/s delivered (steady, best 5 s window)', `${fmtInt(steady)} /s`);
      const q = percentiles(lat.lat, [50, 90, 99, 100]);
      line(
        'latency webhook → Klaviyo (closed loop)',
        `p50 ${fmtInt(q.p50)} ms, p90 ${fmtInt(q.p90)} ms, p99 ${fmtInt(q.p99)} ms, max ${fmtInt(q.p100)} ms (${fmtInt(lat.lat.length)} matched)`,
      );
    },
  };
}

/** Phase 2 (latency at a fixed rate): RATE webhooks/s for RATE_S seconds, open loop. */
function fixedRatePhase(contacts: IntercomContact[]): PhaseSpec {
  const n = RATE * RATE_S;
  heading(`phase 2: ${fmtInt(RATE)} webhooks/s for ${RATE_S} s (${fmtInt(n)} webhooks, open loop)`);
  const { webhooks, expectedEvents } = buildWebhooks(n, contacts);
  return {
    webhooks,
    expectedEvents,
    send: (url, ws) => sendAtRate(url, ws, RATE),
    reportSent: (accepted, sendMs) =>
      line(
        'webhooks accepted (HTTP 200)',
        `${fmtInt(accepted)}/${fmtInt(n)} at ${fmtInt(accepted / (sendMs / 1000))} /s achieved`,
      ),
    deadline: () => Date.now() + TIMEOUT_MS,
    reportDelivered: ({ t0, sendMs, events, lat }) => {
      const q = percentiles(lat.lat, [50, 90, 99, 100]);
      line(
        'events delivered',
        `${fmtInt(events.length)}/${fmtInt(expectedEvents)} in ${((lat.lastReceived - t0) / 1000).toFixed(1)} s`,
      );
      line(
        `latency at ${fmtInt(RATE)}/s webhook → Klaviyo`,
        `p50 ${fmtInt(q.p50)} ms, p90 ${fmtInt(q.p90)} ms, p99 ${fmtInt(q.p99)} ms, max ${fmtInt(q.p100)} ms   target p99 < ${fmtInt(TARGET_P99_MS)} ms`,
      );
      note('latency by when the webhook was sent (5 s windows of phase 2):');
      for (let w = 0; w * 5000 < sendMs; w++) {
        const xs = lat.lat.filter((_, i) => lat.sentAt[i] - t0 >= w * 5000 && lat.sentAt[i] - t0 < (w + 1) * 5000);
        if (xs.length === 0) continue;
        const qw = percentiles(xs, [50, 99]);
        note(
          `  ${String(w * 5).padStart(3)}-${String((w + 1) * 5).padEnd(3)} s: ${fmtInt(xs.length).padStart(6)} events, p50 ${fmtInt(qw.p50).padStart(6)} ms, p99 ${fmtInt(qw.p99).padStart(6)} ms`,
        );
      }
    },
  };
}

/** contact.user.created for every contact, then wait until Klaviyo holds them all as profiles. */
async function sendContacts(rig: Rig, contacts: IntercomContact[]): Promise<void> {
  const hooks = contacts.map((c) => prepare(contactNotification('contact.user.created', c), null));
  const t0 = Date.now();
  await sendAll(rig.webhookUrl, hooks, CONCURRENCY);
  const bad = hooks.filter((w) => w.status !== 200).length;
  if (bad > 0) throw new Error(`${bad} contact webhooks were not accepted`);
  let profiles = 0;
  await waitUntil(async () => (profiles = (await emuStats(rig.klaviyoUrl)).profiles) >= contacts.length, {
    timeoutMs: TIMEOUT_MS,
    intervalMs: 200,
  });
  if (profiles < contacts.length)
    throw new Error(`only ${profiles}/${contacts.length} contact profiles reached Klaviyo`);
  line(
    'contacts (contact.user.created → profiles)',
    `${fmtInt(contacts.length)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}

// ------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const topicEnv = freshTopicEnv('e2e');
  const prefix = topicEnv.TOPIC_PREFIX;
  const [ingestPort, tPort, sPort, kPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const klaviyoUrl = `http://127.0.0.1:${kPort}`;
  const groups = { transformer: topicEnv.TRANSFORMER_GROUP_ID, sink: topicEnv.SINK_GROUP_ID };
  process.stdout.write(
    `bench (end to end)  node ${process.version}, ${new Date().toISOString()}, ${cpus().length} cores\n`,
  );
  line('N (phase 1 webhooks)', fmtInt(N));
  line('topic prefix', prefix);
  line('apps run from', APPS_DIST === DIST ? `${DIST} (this checkout)` : `${APPS_DIST} (BENCH_APPS_DIST)`);
  line('ingest node flags', INGEST_NODE_FLAGS.join(' ') || '(none)');
  for (const app of ['transformer', 'sink'] as const)
    if (LAUNCH[app].nodeFlags.length > 0) line(`${app} node flags (start:${app})`, LAUNCH[app].nodeFlags.join(' '));
  for (const [app, l] of Object.entries(LAUNCH))
    line(
      `${app} variables (start:${app})`,
      Object.entries(l.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || '(none)',
    );
  note(`stack: ${STACK.how.join('; ')}${STACK.kafkaDataDir ? `; data dir ${STACK.kafkaDataDir}` : ''}`);
  if (CPU_PROF_DIR) {
    mkdirSync(CPU_PROF_DIR, { recursive: true });
    note(`CPU profiles of ${PROFILED.join(', ')} during phase 1 → ${resolve(CPU_PROF_DIR)}/<app>.cpuprofile`);
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: BROKERS,
    SCHEMA_REGISTRY_URL: REGISTRY,
    ...topicEnv,
    INGEST_PORT: String(ingestPort),
    INGEST_HOST: '127.0.0.1',
    TRANSFORMER_HTTP_PORT: String(tPort),
    SINK_HTTP_PORT: String(sPort),
    KLAVIYO_BASE_URL: klaviyoUrl,
    KLAVIYO_API_KEY: 'pk_bench_emulator',
    INTERCOM_CLIENT_SECRET: SECRET,
    LOG_LEVEL: 'warn',
  };
  delete env.INTERCOM_ACCESS_TOKEN;
  delete env.INTERCOM_BASE_URL;

  const config = loadConfig(env as Record<string, string>, 'ingest');
  const kafka = createKafka(config.kafka);
  if (APPS_DIST === DIST) {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, config.kafka);
    await admin.disconnect();
    await new AvroCodec(config.kafka).registerAll();
  } // else another checkout's apps: their own start-up creates their topics and registers their schemas
  const rig: Rig = {
    kafka,
    codec: new AvroCodec(config.kafka),
    prefix,
    topics: { raw: topicName('notifications', prefix), events: topicName('events', prefix) },
    groups,
    klaviyoUrl,
    webhookUrl: new URL(`http://127.0.0.1:${ingestPort}/webhooks/intercom`),
  };

  try {
    const emulator = startChild('klaviyo-emulator', 'tools/klaviyo-emulator/src/main.js', {
      ...env,
      KLAVIYO_EMULATOR_PORT: String(kPort),
      KLAVIYO_EMULATOR_LIMITS: 'off',
    });
    await waitHttp(`${klaviyoUrl}/__emulator/stats`, { timeoutMs: 30_000 });
    const ingest = startChild('ingest', 'apps/ingest/src/main.js', env, INGEST_NODE_FLAGS);
    // each with the node flags of its start script, as ingest (they were left out: a flag there was not measured)
    const transformer = startChild('transformer', 'apps/transformer/src/main.js', env, LAUNCH.transformer.nodeFlags);
    const sink = startChild('sink', 'apps/sink/src/main.js', env, LAUNCH.sink.nodeFlags);
    for (const port of [ingestPort, tPort, sPort])
      await waitHttp(`http://127.0.0.1:${port}/health/ready`, { timeoutMs: 120_000 });
    note('Klaviyo emulator (limits off), ingest, transformer, sink started; no INTERCOM_ACCESS_TOKEN');

    const contacts = Array.from({ length: CONTACTS }, (_, i) =>
      makeContact({
        id: randomBytes(12).toString('hex'),
        role: 'user',
        email: `bench.${i}.${prefix.slice(0, -1)}@example.com`,
        phone: `+1415555${String(1000 + (i % 9000)).padStart(4, '0')}`,
      }),
    );
    await sendContacts(rig, contacts);

    // each process's CPU rate with nothing to do (timers, heartbeats; the broker also serves the machine's other users)
    const idleBefore = cpuSnap();
    const idleT0 = Date.now();
    await sleep(IDLE_S * 1000);
    const idleDelta = cpuDelta(idleBefore, cpuSnap());
    const idleS = (Date.now() - idleT0) / 1000;
    const idleMsPerS: Record<string, number> = {};
    for (const [k, v] of Object.entries(idleDelta)) idleMsPerS[k] = (v * 1000) / idleS;
    note(
      `idle CPU over ${idleS.toFixed(1)} s before phase 1 (CPU-ms/s): ${Object.entries(idleMsPerS)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
    for (const [k, v] of Object.entries(idleMsPerS)) figure(`idle.cpu_ms_per_s.${k}`, v, 'CPU-ms/s');

    const phase1 = throughputPhase(contacts);
    const r1 = await runPhase(rig, phase1, 'p1', { profile: true });
    const deliverMs = r1.lat.lastReceived - r1.t0;
    const cost1 = reportCost('p1', r1, idleMsPerS);
    const eps1 = r1.events.length / (deliverMs / 1000);
    figure('p1.events_per_s', eps1, 'events/s');
    figure(
      'p1.webhooks_per_s',
      phase1.webhooks.filter((w) => w.status === 200).length / (r1.sendMs / 1000),
      'webhooks/s',
    );
    const q1 = percentiles(r1.lat.lat, [50, 99]);
    figure('p1.latency_p50_ms', q1.p50, 'ms');
    figure('p1.latency_p99_ms', q1.p99, 'ms');
    if (CPU_PROF_DIR) {
      const files = PROFILED.map((a) => join(CPU_PROF_DIR, `${a}.cpuprofile`));
      await waitUntil(async () => files.every((f) => existsSync(f)), { timeoutMs: 30_000, intervalMs: 200 });
      note(`CPU profiles of phase 1: ${files.map((f) => (existsSync(f) ? f : `${f} (MISSING)`)).join(', ')}`);
      note(`summarise: npm run bench:profile -- ${files.join(' ')}`);
    }

    // the sink's steady window (150 bulk requests per 60 s) is shared by both phases: let phase 1's grants expire
    const cooldown = Number(process.env.BENCH_COOLDOWN_S ?? 61);
    if (cooldown > 0) {
      note(
        `waiting ${cooldown} s so that phase 1's bulk requests leave the sink's 60 s rate window (BENCH_COOLDOWN_S=0 to skip)`,
      );
      await sleep(cooldown * 1000);
    }

    const r2 = await runPhase(rig, fixedRatePhase(contacts), 'p2');
    const q2 = percentiles(r2.lat.lat, [50, 90, 99, 100]);
    reportCost('p2', r2, idleMsPerS);
    figure('p2.latency_p50_ms', q2.p50, 'ms');
    figure('p2.latency_p99_ms', q2.p99, 'ms');
    const warnings = [ingest, transformer, sink].flatMap((c) =>
      c.tail
        .filter((l) => /WARN|ERROR/.test(l))
        .slice(-3)
        // eslint-disable-next-line no-control-regex -- strips the ANSI colour codes (ESC[...m) of the apps' logs
        .map((l) => `${c.name}: ${l.replace(/\x1b\[[0-9;]*m/g, '').slice(0, 220)}`),
    );
    if (warnings.length > 0) {
      note('last warnings from the apps:');
      for (const w of warnings) note(`  ${w}`);
    }

    // ---- peak RSS
    heading('peak RSS (VmHWM of each child, read before stopping it)');
    for (const c of [ingest, transformer, sink, emulator]) {
      c.peakRss = vmHwm(c.proc.pid);
      line(c.name, c.peakRss ? fmtMiB(c.peakRss) : 'n/a');
      if (c.peakRss) figure(`peak_rss_mib.${c.name}`, c.peakRss / 1024 / 1024, 'MiB');
    }
    line('bench process (this one)', fmtMiB(process.memoryUsage.rss()));
    if (MEM_TRACE_DIR) printMemTraces(MEM_TRACE_DIR);
    await children.stopAll();

    // ---- baseline
    if (process.env.BENCH_SKIP_BASELINE !== '1') {
      heading(
        `baseline: ${fmtInt(N)} messages of ${fmtInt(phase1.avgBytes)} B produced and consumed with plain kafkajs (same broker)`,
      );
      const b = await baseline(kafka, prefix, N, Math.round(phase1.avgBytes));
      line('produce (acks=all, batches of 500, 4 in flight)', `${fmtInt(N / (b.produceMs / 1000))} msg/s`);
      line(
        'produce + consume, end to end',
        `${fmtInt(N / (b.totalMs / 1000))} msg/s  (${(b.totalMs / 1000).toFixed(1)} s)`,
      );
      const pipelineRate = r1.events.length / (deliverMs / 1000);
      line(
        'pipeline / baseline',
        `${((pipelineRate / (N / (b.totalMs / 1000))) * 100).toFixed(1)} %  (pipeline events/s over baseline msg/s)`,
      );
      figure('baseline.msgs_per_s', N / (b.totalMs / 1000), 'msg/s');
      figure('ratio.events_per_s_to_baseline', pipelineRate / (N / (b.totalMs / 1000)), 'x');
      // CPU: this process produced and consumed (one kafkajs client each way); from the first send to the last message consumed
      const clientMs = ((b.cpuAfter[LOADGEN] - b.cpuBefore[LOADGEN]) * 1000) / N;
      const brokerMs =
        b.cpuAfter.kafka !== undefined && b.cpuBefore.kafka !== undefined
          ? ((b.cpuAfter.kafka - b.cpuBefore.kafka) * 1000) / N
          : NaN;
      const bytesPerMsg = b.bytes === null ? NaN : b.bytes / N;
      line('baseline CPU per message: kafkajs client (produce + consume)', `${clientMs.toFixed(3)} CPU-ms/msg`);
      line('baseline CPU per message: broker', Number.isNaN(brokerMs) ? 'n/a' : `${brokerMs.toFixed(3)} CPU-ms/msg`);
      line('baseline broker bytes per message', Number.isNaN(bytesPerMsg) ? 'n/a' : `${fmtInt(bytesPerMsg)} B/msg`);
      line(
        'three apps / baseline client, CPU per event',
        `${(cost1.cpuMsPerEvent.apps / clientMs).toFixed(2)} ×  (phase 1 apps CPU-ms per delivered event over baseline client CPU-ms per message)`,
      );
      if (!Number.isNaN(brokerMs))
        line('broker / baseline broker, CPU per event', `${(cost1.cpuMsPerEvent.kafka / brokerMs).toFixed(2)} ×`);
      if (cost1.bytesPerEvent !== null && !Number.isNaN(bytesPerMsg))
        line('broker bytes per event / baseline per message', `${(cost1.bytesPerEvent / bytesPerMsg).toFixed(2)} ×`);
      figure('baseline.cpu_ms_per_msg.client', clientMs, 'CPU-ms/msg');
      figure('baseline.cpu_ms_per_msg.kafka', brokerMs, 'CPU-ms/msg');
      figure('baseline.broker_bytes_per_msg', bytesPerMsg, 'B/msg');
      figure('ratio.apps_cpu_to_baseline_client', cost1.cpuMsPerEvent.apps / clientMs, 'x');
      figure('ratio.broker_cpu_to_baseline_broker', cost1.cpuMsPerEvent.kafka / brokerMs, 'x');
      figure(
        'ratio.broker_bytes_to_baseline',
        cost1.bytesPerEvent === null ? NaN : cost1.bytesPerEvent / bytesPerMsg,
        'x',
      );
    }

    heading('summary');
    const eps = r1.events.length / (deliverMs / 1000);
    line(
      'events/s delivered end to end',
      `${fmtInt(eps)} /s  ${eps >= TARGET_EVENTS_PER_S ? 'meets' : 'MISSES'} ≥ ${fmtInt(TARGET_EVENTS_PER_S)}`,
    );
    line(
      `p99 at ${fmtInt(RATE)} webhooks/s`,
      `${fmtInt(q2.p99)} ms  ${q2.p99 < TARGET_P99_MS ? 'meets' : 'MISSES'} < ${fmtInt(TARGET_P99_MS)} ms`,
    );
    line(
      'three apps, CPU-ms per delivered event (phase 1)',
      `${cost1.cpuMsPerEvent.apps.toFixed(3)}  ${cost1.cpuMsPerEvent.apps <= TARGET_APPS_CPU_MS ? 'meets' : 'MISSES'} ≤ ${TARGET_APPS_CPU_MS}`,
    );

    heading(
      'figures (machine-readable: figure <name> <value> <unit>; p1 = phase 1, p2 = phase 2; CPU windows: first send → last event)',
    );
    for (const f of figures) process.stdout.write(`${f}\n`);
  } finally {
    await children.stopAll();
    agent.destroy();
    const n = await deletePrefixedTopics(kafka, prefix).catch(() => 0);
    note(`cleaned up: children stopped, ${n} topic(s) with prefix ${prefix} deleted`);
  }
}

function latencies(
  events: EmuEvent[],
  webhooks: Prepared[],
): { lat: number[]; sentAt: number[]; lastReceived: number } {
  const sent = new Map<string, number>();
  for (const w of webhooks) {
    if (!w.eventKey || w.status !== 200) continue;
    const prev = sent.get(w.eventKey);
    if (prev === undefined || w.sentAt < prev) sent.set(w.eventKey, w.sentAt);
  }
  const lat: number[] = [];
  const sentAt: number[] = [];
  let lastReceived = 0;
  for (const e of events) {
    const at = Date.parse(e.receivedAt);
    if (at > lastReceived) lastReceived = at;
    const id = (e.properties['Conversation ID'] ?? e.properties['Ticket ID']) as string | undefined;
    const s = id === undefined ? undefined : sent.get(`${e.metric}|${id}`);
    if (s !== undefined) {
      lat.push(at - s);
      sentAt.push(s);
    }
  }
  return { lat, sentAt, lastReceived };
}

function steadyRate(samples: Sample[]): number | null {
  let best = 0;
  for (let i = 0; i < samples.length; i++) {
    const j = samples.findIndex((s) => s.t >= samples[i].t + 5000);
    if (j < 0) break;
    best = Math.max(best, ((samples[j].klaviyo - samples[i].klaviyo) / (samples[j].t - samples[i].t)) * 1000);
  }
  return best > 0 ? best : null;
}

function printTimeline(samples: Sample[]): void {
  if (samples.length < 2) return;
  const z = samples[0];
  samples = samples.slice(1).map((s) => ({
    t: s.t,
    accepted: s.accepted,
    rawEnd: s.rawEnd - z.rawEnd,
    transformerCommitted: s.transformerCommitted - z.transformerCommitted,
    eventsEnd: s.eventsEnd - z.eventsEnd,
    sinkCommitted: s.sinkCommitted - z.sinkCommitted,
    klaviyo: s.klaviyo - z.klaviyo,
  }));
  note("timeline (counts since the phase started; lag = upstream end offset − the stage's committed offset):");
  note(
    `${'t(s)'.padStart(5)} ${'accepted'.padStart(9)} ${'raw.end'.padStart(8)} ${'tr.commit'.padStart(9)} ${'tr.lag'.padStart(7)} ${'events.end'.padStart(10)} ${'sink.commit'.padStart(11)} ${'sink.lag'.padStart(8)} ${'klaviyo'.padStart(8)}`,
  );
  const step = Math.max(1, Math.ceil(samples.length / 40));
  samples.forEach((s, i) => {
    if (i % step !== 0 && i !== samples.length - 1) return;
    note(
      `${(s.t / 1000).toFixed(0).padStart(5)} ${String(s.accepted).padStart(9)} ${String(s.rawEnd).padStart(8)} ${String(s.transformerCommitted).padStart(9)} ${String(s.rawEnd - s.transformerCommitted).padStart(7)} ` +
        `${String(s.eventsEnd).padStart(10)} ${String(s.sinkCommitted).padStart(11)} ${String(s.eventsEnd - s.sinkCommitted).padStart(8)} ${String(s.klaviyo).padStart(8)}`,
    );
  });
}

async function baseline(
  kafka: Kafka,
  prefix: string,
  n: number,
  bytes: number,
): Promise<{ produceMs: number; totalMs: number; cpuBefore: CpuSnap; cpuAfter: CpuSnap; bytes: number | null }> {
  const topic = `${prefix}baseline`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const value = Buffer.alloc(bytes, 'x');
  const consumer = kafka.consumer({ groupId: `${prefix}baseline` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let consumed = 0;
  let doneAt = 0;
  let cpuAfter: CpuSnap | null = null;
  let bytesAfter: Map<string, number> | null = null;
  await consumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (const m of batch.messages) resolveOffset(m.offset);
      consumed += batch.messages.length;
      if (consumed >= n && !doneAt) {
        doneAt = Date.now();
        cpuAfter = cpuSnap();
        bytesAfter = logBytes(topic);
      }
      await heartbeat();
    },
  });
  await sleep(3000); // let the group settle before timing
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const bytesBefore = logBytes(topic);
  const cpuBefore = cpuSnap();
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const from = next;
      next = Math.min(n, next + 500);
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: next - from }, (_, i) => ({ key: `k${from + i}`, value })),
      });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const produceMs = Date.now() - t0;
  const deadline = Date.now() + TIMEOUT_MS;
  while (!doneAt && Date.now() < deadline) await sleep(20);
  const end = cpuAfter ?? cpuSnap();
  const grown = bytesGrowth(bytesBefore, bytesAfter ?? logBytes(topic));
  await producer.disconnect();
  await consumer.disconnect();
  return {
    produceMs,
    totalMs: (doneAt || Date.now()) - t0,
    cpuBefore,
    cpuAfter: end,
    bytes: grown === null ? null : [...grown.values()].reduce((s, b) => s + b, 0),
  };
}

let interrupted = false;
process.once('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write('bench: interrupted, stopping children\n');
  void children.stopAll().then(() => process.exit(130));
});

main().then(
  () => process.exit(0),
  async (e) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    await children.stopAll();
    process.exit(1);
  },
);
