/**
 * bench:connections — many connections (issue #22): N Intercom workspaces → N Klaviyo accounts of
 * the emulator (each its own key, store and rate-limit windows at Klaviyo's documented limits),
 * CONNECTIONS_DEFAULT=off, the built ingest, transformer and BENCH_CONNECTIONS_REPLICAS (3) sink
 * processes in one group.
 *
 * **Ceiling of an account** (events/s): the emulator's steady limit of `bulk_create_events` for it
 * (150 requests per 60 s) × the events one bulk request holds. At Klaviyo's 1,000 per request that
 * is 2,500 events/s per account, 125,000 for 50 accounts: more than the emulator or 2 cores can
 * serve, so the sinks run with SINK_BATCH_MAX_EVENTS=BENCH_CONNECTIONS_BATCH (default 10):
 * 150 / 60 × 10 = 25 events/s per account. The request rate is the one Klaviyo limits, and it is
 * the real one.
 *
 * Each account's events topic backlog is written first (1.3 × its ceiling × the run, spread over
 * every partition, keyed `<connection>/<contact>` as the transformer keys them); each workspace
 * also posts its contacts and a conversation to ingest (signed webhooks, through the transformer:
 * every app meets every connection). Then BENCH_CONNECTIONS_SECONDS (default 60) of delivery from
 * the first stored event. Prints events/s in all, each account's share of its ceiling after the
 * first 10 s (min / median / max), the 429s every account got, and the resident set (VmRSS at the
 * end, VmHWM peak) of every app.
 *
 * **Memory per connection**: a run with 1 connection first (BENCH_CONNECTIONS_BASE_SECONDS,
 * default 20 s) whose one account holds the backlog all N accounts hold in the second run, then
 * (RSS with N − RSS with 1) / (N − 1) per app, from VmRSS at each run's end and from VmHWM (peak).
 * The N run delivers N times the events per second (more in flight), so this is an upper bound.
 *
 * Env: BENCH_CONNECTIONS_N (50), BENCH_CONNECTIONS_SECONDS (60), BENCH_CONNECTIONS_BASE_SECONDS (20),
 * BENCH_CONNECTIONS_REPLICAS (3), BENCH_CONNECTIONS_BATCH (10), BENCH_VERBOSE=1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { Message } from 'kafkajs';
import type { Config } from '@iks/config';
import type { KlaviyoEventRecord } from '@iks/domain';
import { createKafka, eventToAvro, topicName, type AvroCodec } from '@iks/kafka';
import {
  contactNotification,
  conversationLifecycle,
  generateDataset,
  signBody,
  startIntercomEmulator,
  type IntercomEmulator,
} from '../tools/intercom-emulator/src';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../tools/klaviyo-emulator/src';
import {
  connectionSecretKeys,
  emulatedTenants,
  writeConnections,
  type EmulatedTenant,
} from '../tools/support/emulated-connections';
import { prepareFreshTopics } from '../tools/support/fresh-topics';
import { waitUntil } from '../tools/support/wait-for';
import { freePort } from '../test/support/free-port';
import {
  benchConfig,
  deletePrefixedTopics,
  deployedLaunch,
  INGEST_FALLBACK_FLAGS,
  envInt,
  fmtInt,
  fmtMiB,
  heading,
  line,
  note,
  nowMs,
  pct,
  percentile,
  produceMessages,
  sleep,
} from './bench-util';
import { ChildProcesses, vmHwm, type Child } from './support/child-processes';

const ROOT = join(__dirname, '..', '..');
const APPS = join(__dirname, '..', 'apps');
const SECRET = 'bench-connections-client-secret';
const SHARE_TARGET = 0.9;
const WARM_MS = 10_000;

Logger.overrideLogger(['error', 'warn']);

function vmRss(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function event(t: EmulatedTenant, i: number, partition: number): KlaviyoEventRecord {
  const contact = `c${i % 97}`;
  return {
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: `person${i % 97}.${t.connection}@bench.example.com` },
    properties: { 'Conversation ID': `${t.connection}-${i}` },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${t.connection}p${partition}:${i}:created`,
    backfill: false,
    intercom_contact_id: contact,
    source_notification_id: `notif_${t.connection}_${i}`,
    source_topic: 'conversation.user.created',
    connection_id: t.connection,
  };
}

/** Every tenant's backlog in the events topic: `perTenant` events each, spread evenly over the partitions. */
async function produceBacklog(
  config: Config,
  codec: AvroCodec,
  tenants: readonly EmulatedTenant[],
  perTenant: number,
): Promise<void> {
  const kafka = createKafka(config.kafka);
  const topic = topicName('events', config.kafka.topicPrefix);
  const parts = config.kafka.partitions;
  let messages: Message[] = [];
  const flush = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await produceMessages(kafka, topic, messages);
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
        await sleep(1000 * attempt);
      }
    }
    messages = [];
  };
  // interleaved by tenant, as the transformer would write them
  for (let i = 0; i < perTenant; i++) {
    for (const t of tenants) {
      const partition = i % parts;
      const e = event(t, i, partition);
      messages.push({
        partition,
        key: `${t.connection}/${e.intercom_contact_id}`,
        value: await codec.encode(topic, eventToAvro(e)),
      });
    }
    if (messages.length >= 20_000) await flush();
  }
  if (messages.length > 0) await flush();
}

async function httpReady(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Each workspace's contacts and one conversation, signed, to ingest; the answers' statuses. */
async function postWebhooks(ingestPort: number, intercom: IntercomEmulator, tenants: readonly EmulatedTenant[]) {
  const statuses: Record<string, number> = {};
  const startAt = Math.floor(Date.now() / 1000) - 3600;
  const bodies: string[] = [];
  for (const t of tenants) {
    const d = intercom.workspace(t.appId).dataset;
    for (const c of d.contacts)
      bodies.push(JSON.stringify({ ...contactNotification('contact.user.created', c, { appId: t.appId }) }));
  }
  for (const t of tenants) {
    const d = intercom.workspace(t.appId).dataset;
    for (const n of conversationLifecycle({
      contact: d.contacts[0],
      admin: d.admins[0],
      team: d.teams[0],
      startAt,
      appId: t.appId,
      id: String(t.idBase + 501),
    }))
      bodies.push(JSON.stringify({ ...n, app_id: t.appId }));
  }
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      let status = 0;
      for (let attempt = 0; attempt < 5 && (status === 0 || status >= 500); attempt++) {
        status = await fetch(`http://127.0.0.1:${ingestPort}/webhooks/intercom`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'x-hub-signature': signBody(body, SECRET) },
        })
          .then(async (r) => (await r.arrayBuffer(), r.status))
          .catch(() => 0);
        if (status === 0 || status >= 500) await sleep(500);
      }
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return statuses;
}

interface PhaseResult {
  readonly rss: Map<string, number>;
  readonly peak: Map<string, number>;
}

/** The events each account's backlog gets for a run of `seconds`: 1.3 × its ceiling for the run and 15 s more. */
const backlogPerAccount = (ceiling: number, seconds: number) => Math.ceil(ceiling * (seconds + 15) * 1.3);

async function phase(
  n: number,
  seconds: number,
  replicas: number,
  batch: number,
  backlogTotal?: number,
): Promise<PhaseResult> {
  const tenants = emulatedTenants(n, 'b', SECRET);
  heading(
    `${n} connection(s) → ${n} Klaviyo account(s), ${replicas} sink replicas, ${seconds} s of delivery (bulk requests of ${batch} events)`,
  );
  const klaviyo: KlaviyoEmulator = await startKlaviyoEmulator({
    port: 0,
    limits: true,
    retainEvents: false,
    accounts: tenants.map((t) => ({ id: t.account, name: t.connection, privateKeys: [t.privateKey] })),
  });
  const intercom = await startIntercomEmulator({
    port: 0,
    workspaces: tenants.map((t, i) => ({
      appId: t.appId,
      region: 'US' as const,
      accessTokens: [t.accessToken],
      clientSecret: t.clientSecret,
      dataset: generateDataset({
        seed: 90 + i,
        contacts: 3,
        conversations: 0,
        tickets: 0,
        appId: t.appId,
        idBase: t.idBase,
      }),
    })),
  });
  const ceilingOf = (t: EmulatedTenant) =>
    (klaviyo.account(t.account).limits.limits.bulk_create_events.steady / 60) * batch;
  const children = new ChildProcesses();
  const ingestPort = await freePort();
  const secretKeys = connectionSecretKeys();
  const cli = benchConfig('cli', { CONNECTION_SECRET_KEYS: secretKeys, CONNECTIONS_DEFAULT: 'off' });
  const prefix = cli.kafka.topicPrefix;
  try {
    const tProduce = nowMs();
    const codec = await prepareFreshTopics(cli);
    await writeConnections(cli, tenants, { intercom: intercom.url, klaviyo: klaviyo.url });
    const perTenant = backlogTotal ? Math.ceil(backlogTotal / n) : backlogPerAccount(ceilingOf(tenants[0]), seconds);
    await produceBacklog(cli, codec, tenants, perTenant);
    note(
      `${fmtInt(perTenant * n)} events written to the events topic (${fmtInt(perTenant)} per account) and ${n} connection(s) in ${((nowMs() - tProduce) / 1000).toFixed(1)} s`,
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KAFKA_BROKERS: cli.kafka.brokers.join(','),
      SCHEMA_REGISTRY_URL: cli.kafka.schemaRegistryUrl,
      TOPIC_PREFIX: prefix,
      TRANSFORMER_GROUP_ID: `${prefix}transformer`,
      SINK_GROUP_ID: `${prefix}sink`,
      CONNECTION_SECRET_KEYS: secretKeys,
      CONNECTIONS_DEFAULT: 'off',
      INTERCOM_CLIENT_SECRET: SECRET,
      INGEST_HOST: '127.0.0.1',
      INGEST_PORT: String(ingestPort),
      SINK_BATCH_MAX_EVENTS: String(batch),
      SINK_HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    };
    const verbose = process.env.BENCH_VERBOSE === '1';
    // each app as package.json's start:<app> deploys it (node flags, MALLOC_ARENA_MAX)
    const [ingest, transformer, sink] = ['ingest', 'transformer', 'sink'].map((app) =>
      deployedLaunch(ROOT, app, app === 'ingest' ? INGEST_FALLBACK_FLAGS : []),
    );
    const apps: Child[] = [
      children.start(
        'ingest',
        join(APPS, 'ingest/src/main.js'),
        { ...env, ...ingest.env },
        {
          verbose,
          nodeFlags: ingest.nodeFlags,
        },
      ),
      children.start(
        'transformer',
        join(APPS, 'transformer/src/main.js'),
        { ...env, TRANSFORMER_HTTP_PORT: '0', ...transformer.env },
        { verbose, nodeFlags: transformer.nodeFlags },
      ),
    ];
    for (let i = 1; i <= replicas; i++)
      apps.push(
        children.start(
          `sink-${i}`,
          join(APPS, 'sink/src/main.js'),
          { ...env, SINK_HTTP_PORT: '0', ...sink.env },
          { verbose, nodeFlags: sink.nodeFlags },
        ),
      );
    if (!(await waitUntil(() => httpReady(ingestPort), { timeoutMs: 90_000, intervalMs: 250 })))
      throw new Error(`ingest not ready within 90 s: ${apps[0].tail.join(' | ')}`);
    const stores = tenants.map((t) => klaviyo.account(t.account).store);
    const stored = () => stores.map((s) => s.eventsStored);
    const firstDeadline = Date.now() + 120_000;
    while (stored().every((x) => x === 0) && Date.now() < firstDeadline) await sleep(20);
    const t0 = nowMs();
    const answers = await postWebhooks(ingestPort, intercom, tenants);
    const timeline: Array<{ at: number; counts: number[] }> = [{ at: 0, counts: stored() }];
    while (nowMs() - t0 < seconds * 1000) {
      await sleep(1000);
      timeline.push({ at: nowMs() - t0, counts: stored() });
    }
    const end = timeline[timeline.length - 1];
    const warm = timeline.find((s) => s.at >= WARM_MS) ?? timeline[0];
    const total = end.counts.reduce((a, b) => a + b, 0);
    const ceilingAll = tenants.reduce((a, t) => a + ceilingOf(t), 0);
    const allRate = (total / end.at) * 1000;
    const shares = tenants.map(
      (t, i) => (((end.counts[i] - warm.counts[i]) / (end.at - warm.at)) * 1000) / ceilingOf(t),
    );
    const sorted = [...shares].sort((a, b) => a - b);
    const throttled = stores.reduce((a, s) => a + s.throttled, 0);
    line(
      'webhooks posted (status: count)',
      Object.entries(answers)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', '),
    );
    line(
      'events/s in all (from the first stored event)',
      `${fmtInt(allRate)} = ${pct(allRate / ceilingAll)} of the ${n} ceilings (${fmtInt(ceilingAll)}/s; ${fmtInt(ceilingOf(tenants[0]))}/s each)`,
    );
    line(
      `each account's share of its ceiling (after the first ${WARM_MS / 1000} s)`,
      `min ${pct(sorted[0])}, median ${pct(percentile(sorted, 50))}, max ${pct(sorted[sorted.length - 1])}; below ${pct(SHARE_TARGET)}: ${shares.filter((s) => s < SHARE_TARGET).length} (target 0: ${sorted[0] >= SHARE_TARGET ? 'met' : 'MISSED'})`,
    );
    const sumAt = (ms: number) =>
      (timeline.filter((x) => x.at <= ms).pop() ?? timeline[0]).counts.reduce((a, b) => a + b, 0);
    const per10: string[] = [];
    for (let t = 10_000; t <= end.at + 500; t += 10_000) per10.push(fmtInt((sumAt(t) - sumAt(t - 10_000)) / 10));
    note(
      `events/s in all, per 10 s: ${per10.join(', ')} (a gap: a rebalance holds every budget, or a starved replica)`,
    );
    line(
      '429 Too Many Requests (every account)',
      `${fmtInt(throttled)} (target 0: ${throttled === 0 ? 'met' : 'MISSED'})`,
    );
    const rss = new Map<string, number>();
    const peak = new Map<string, number>();
    for (const c of apps) {
      const now = vmRss(c.proc.pid) ?? 0;
      rss.set(c.name, now);
      peak.set(c.name, vmHwm(c.proc.pid) ?? 0);
      line(`RSS ${c.name}`, `${fmtMiB(now)} at the end, peak ${fmtMiB(peak.get(c.name)!)}`);
    }
    if (n > 1 && sorted[0] < SHARE_TARGET)
      note(
        `lowest accounts: ${shares
          .map((s, i) => [s, tenants[i].account] as const)
          .sort((a, b) => a[0] - b[0])
          .slice(0, 5)
          .map(([s, a]) => `${a} ${pct(s)}`)
          .join(', ')}`,
      );
    return { rss, peak };
  } finally {
    await children.stopAll();
    await klaviyo.close().catch(() => undefined);
    await intercom.close().catch(() => undefined);
    await deletePrefixedTopics(createKafka(cli.kafka), prefix).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  process.stdout.write(`bench:connections  node ${process.version}, ${new Date().toISOString()}\n`);
  const n = envInt('BENCH_CONNECTIONS_N', 50);
  const replicas = envInt('BENCH_CONNECTIONS_REPLICAS', 3);
  const batch = envInt('BENCH_CONNECTIONS_BATCH', 10);
  const seconds = envInt('BENCH_CONNECTIONS_SECONDS', 60);
  // the baseline's one account holds the backlog all N accounts hold in the second run (what the
  // sinks fetch and hold does not differ): the difference is what the connections cost
  const backlog = n * backlogPerAccount((150 / 60) * batch, seconds);
  const base = await phase(1, envInt('BENCH_CONNECTIONS_BASE_SECONDS', 20), replicas, batch, backlog);
  const many = await phase(n, seconds, replicas, batch);
  heading(`memory per connection: (RSS with ${n} − RSS with 1) / ${n - 1}, per app (VmRSS at the end; VmHWM peak)`);
  const per = (m: PhaseResult, b: PhaseResult, app: string, k: 'rss' | 'peak') =>
    ((m[k].get(app) ?? 0) - (b[k].get(app) ?? 0)) / Math.max(1, n - 1);
  for (const [app, rss] of many.rss)
    line(
      app,
      `${fmtMiB(per(many, base, app, 'rss'))} (${fmtMiB(base.rss.get(app) ?? 0)} → ${fmtMiB(rss)}); peak ${fmtMiB(per(many, base, app, 'peak'))}`,
    );
  const sinks = [...many.rss.keys()].filter((a) => a.startsWith('sink-'));
  const mean = (k: 'rss' | 'peak') => sinks.reduce((a, s) => a + per(many, base, s, k), 0) / sinks.length;
  line('sink (mean of the replicas)', `${fmtMiB(mean('rss'))}; peak ${fmtMiB(mean('peak'))}`);
  note('a negative figure: the run with 1 connection ended with more resident memory (GC timing); noise-bound');
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:connections failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
