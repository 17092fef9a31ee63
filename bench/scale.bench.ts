/**
 * bench:scale — sink replicas on one Klaviyo account (the emulator, limits on: bulk_create_events
 * 10/s burst, 150/min steady, so a ceiling of 2,500 events/s).
 *
 * 1. K = 1, 2, 3 sink processes (the built app, dist/apps/sink/src/main.js) in one group, on a
 *    topic that holds more than they can send: BENCH_SCALE_SECONDS (default 70) of delivery from
 *    the first stored event. Prints events/s and its share of the ceiling (whole run, and the
 *    last 60 s), 429s, and the most bulk requests the emulator saw in one fixed 1 s / 60 s window.
 *    Targets: 0 × 429; together ≥ 90 % of the ceiling.
 * 2. K = 3 with BENCH_SCALE_KILL_N (default 60,000) events; one replica is SIGKILLed
 *    BENCH_SCALE_KILL_AFTER_S (default 10) s after the first stored event. Prints events lost
 *    (produced − distinct stored, once nothing more arrives) and the time from the kill until
 *    every partition not yet drained at the kill delivers again. Targets: 0 lost, ≤ 30 s.
 *
 * Env: BENCH_SCALE_SECONDS, BENCH_SCALE_KS (default "1,2,3"), BENCH_SCALE_KILL_N,
 * BENCH_SCALE_KILL_AFTER_S, BENCH_SCALE_SKIP_KILL=1, BENCH_VERBOSE=1 (print the replicas' logs).
 */
import { prepareFreshTopics } from '../tools/support/fresh-topics';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { Message } from 'kafkajs';
import type { Config } from '@iks/config';
import type { KlaviyoEventRecord } from '@iks/domain';
import { createKafka, eventToAvro, topicName } from '@iks/kafka';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../tools/klaviyo-emulator/src';
import {
  benchConfig,
  deletePrefixedTopics,
  envInt,
  fmtInt,
  fmtMs,
  heading,
  line,
  note,
  nowMs,
  pct,
  produceMessages,
  sleep,
} from './bench-util';
import { ChildProcesses } from './support/child-processes';

const BULK_CEILING = (150 * 1000) / 60; // events/s
const SHARE_TARGET = 0.9;
const SINK_MAIN = join(__dirname, '..', 'apps', 'sink', 'src', 'main.js');

Logger.overrideLogger(['error', 'warn']);

function event(i: number, partition: number, tag: string): KlaviyoEventRecord {
  return {
    kind: 'event',
    metric: 'Conversation Created',
    profile: { email: `person${i % 997}@bench.example.com` },
    properties: { 'Conversation ID': `${tag}${i}`, Tags: ['vip'] },
    time: '2026-01-02T03:04:05Z',
    unique_id: `intercom:conversation:${tag}p${partition}:${i}:created`,
    backfill: false,
    intercom_contact_id: `c${i % 997}`,
    source_notification_id: `notif_${tag}${i}`,
    source_topic: 'conversation.user.created',
  };
}

/** Fresh topics with `n` events spread evenly over the events topic's partitions (each unique_id names its partition). */
async function prepare(n: number, emulator: KlaviyoEmulator, tag: string): Promise<Config> {
  const config = benchConfig('sink', {
    KLAVIYO_API_KEY: 'pk_bench_0000000000000000000000000',
    KLAVIYO_BASE_URL: emulator.url,
  });
  const kafka = createKafka(config.kafka);
  const codec = await prepareFreshTopics(config);
  const topic = topicName('events', config.kafka.topicPrefix);
  const parts = config.kafka.partitions;
  for (let at = 0; at < n; at += 20_000) {
    const messages: Message[] = [];
    for (let i = at; i < Math.min(n, at + 20_000); i++) {
      const partition = i % parts;
      const e = event(i, partition, tag);
      messages.push({ partition, key: e.intercom_contact_id, value: await codec.encode(topic, eventToAvro(e)) });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await produceMessages(kafka, topic, messages);
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
        await sleep(1000 * attempt);
      }
    }
  }
  return config;
}

function startSinks(children: ChildProcesses, config: Config, emulator: KlaviyoEmulator, k: number): void {
  for (let i = 1; i <= k; i++) {
    children.start(
      `sink-${i}`,
      SINK_MAIN,
      {
        PATH: process.env.PATH,
        KAFKA_BROKERS: config.kafka.brokers.join(','),
        SCHEMA_REGISTRY_URL: config.kafka.schemaRegistryUrl,
        TOPIC_PREFIX: config.kafka.topicPrefix,
        SINK_GROUP_ID: config.sink.groupId,
        KLAVIYO_API_KEY: 'pk_bench_0000000000000000000000000',
        KLAVIYO_BASE_URL: emulator.url,
        SINK_HTTP_PORT: '0',
        SINK_HTTP_HOST: '127.0.0.1',
        LOG_LEVEL: 'log',
        LOG_FORMAT: 'json',
      },
      { verbose: process.env.BENCH_VERBOSE === '1' },
    );
  }
}

function printRequests(emulator: KlaviyoEmulator): void {
  const sizes: number[] = [];
  const statuses: Record<string, number> = {};
  for (const e of emulator.store.requestLog()) {
    if (!e.path.includes('event-bulk-create-jobs')) continue;
    statuses[e.status] = (statuses[e.status] ?? 0) + 1;
    if (e.status >= 200 && e.status < 300 && e.events !== undefined) sizes.push(e.events);
  }
  const mean = sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0;
  line(
    'bulk requests (status: count)',
    Object.entries(statuses)
      .map(([k, v]) => `${k}: ${fmtInt(v)}`)
      .join(', ') || 'none',
  );
  line(
    'events per accepted bulk request',
    `mean ${fmtInt(mean)} (fill ${pct(mean / 1000)}); duplicates Klaviyo ignored ${fmtInt(emulator.store.duplicateEventsIgnored)}`,
  );
}

function printWindows(emulator: KlaviyoEmulator): void {
  const peaks = emulator.store.windowPeaks();
  const seen = peaks.seen.bulk_create_events;
  const admitted = peaks.admitted.bulk_create_events;
  line(
    'bulk requests per fixed window (peak seen)',
    seen
      ? `${seen.perSecond}/s, ${seen.perMinute}/min (limits 10/s, 150/min; admitted ${admitted?.perSecond ?? 0}/s, ${admitted?.perMinute ?? 0}/min)`
      : 'none',
  );
}

async function replicas(k: number, seconds: number): Promise<void> {
  const n = Math.ceil(BULK_CEILING * seconds * 1.5) + 10_000;
  heading(`sink replicas K = ${k}: ${seconds} s of delivery from ${fmtInt(n)} events, one account, emulator limits on`);
  const emulator = await startKlaviyoEmulator({ port: 0, limits: true, retainEvents: false });
  const children = new ChildProcesses();
  let config: Config | undefined;
  try {
    config = await prepare(n, emulator, `k${k}-`);
    startSinks(children, config, emulator, k);
    const stored = () => emulator.store.eventsStored;
    const firstDeadline = Date.now() + 90_000;
    while (stored() === 0 && Date.now() < firstDeadline) await sleep(5);
    const t0 = nowMs();
    const timeline: Array<[number, number]> = [[0, stored()]];
    while (nowMs() - t0 < seconds * 1000) {
      await sleep(100);
      timeline.push([nowMs() - t0, stored()]);
    }
    const elapsed = nowMs() - t0;
    const total = stored();
    const at = (ms: number) => timeline.filter(([t]) => t <= ms).pop()?.[1] ?? 0;
    const rate = (total / elapsed) * 1000;
    const last60 = elapsed >= 60_000 ? ((total - at(elapsed - 60_000)) / 60_000) * 1000 : NaN;
    line('events delivered', `${fmtInt(total)} in ${fmtMs(elapsed)} (from the first stored event)`);
    line(
      "whole run (incl. the idle account's first-minute burst)",
      `${fmtInt(rate)} events/s = ${pct(rate / BULK_CEILING)} of ${fmtInt(BULK_CEILING)}/s`,
    );
    line(
      'last 60 s (steady state)',
      Number.isNaN(last60)
        ? 'n/a (run < 60 s)'
        : `${fmtInt(last60)} events/s = ${pct(last60 / BULK_CEILING)} of the ceiling (target ≥ ${pct(SHARE_TARGET)}: ${last60 / BULK_CEILING >= SHARE_TARGET ? 'met' : 'MISSED'})`,
    );
    line(
      '429 Too Many Requests',
      `${fmtInt(emulator.store.throttled)} (target 0: ${emulator.store.throttled === 0 ? 'met' : 'MISSED'})`,
    );
    printWindows(emulator);
    printRequests(emulator);
    const perInterval: string[] = [];
    for (let s = 10; s <= Math.floor(elapsed / 1000); s += 10)
      perInterval.push(`${s}s ${fmtInt(at(s * 1000) - at((s - 10) * 1000))}`);
    note(`events stored per 10 s: ${perInterval.join(', ')}`);
    for (const c of children.children)
      note(
        `${c.name}: ${
          c.tail
            .filter((l) => l.includes('budget share of'))
            .pop()
            ?.replace(/.*"msg":"([^"]*)".*/, '$1') ?? 'no budget share logged'
        }`,
      );
  } finally {
    await children.stopAll();
    await emulator.close().catch(() => undefined);
    if (config) await deletePrefixedTopics(createKafka(config.kafka), config.kafka.topicPrefix).catch(() => undefined);
  }
}

async function kill(n: number, killAfterS: number): Promise<void> {
  heading(`sink replicas K = 3, one SIGKILLed ${killAfterS} s in: ${fmtInt(n)} events, emulator limits on`);
  const emulator = await startKlaviyoEmulator({ port: 0, limits: true, retainEvents: true });
  const children = new ChildProcesses();
  let config: Config | undefined;
  try {
    config = await prepare(n, emulator, 'kill-');
    const parts = config.kafka.partitions;
    startSinks(children, config, emulator, 3);
    const perPartition = new Array<number>(parts).fill(0);
    const seen = new Set<string>();
    let scanned = 0;
    const scan = () => {
      const ev = emulator.store.events;
      for (; scanned < ev.length; scanned++) {
        const id = ev[scanned].unique_id;
        if (seen.has(id)) continue;
        seen.add(id);
        const m = /p(\d+):\d+:created$/.exec(id);
        if (m) perPartition[Number(m[1])]++;
      }
    };
    const firstDeadline = Date.now() + 90_000;
    while (emulator.store.events.length === 0 && Date.now() < firstDeadline) await sleep(5);
    await sleep(killAfterS * 1000);
    scan();
    const victim = children.children[1];
    victim.proc.kill('SIGKILL');
    const tKill = nowMs();
    const atKill = [...perPartition];
    const target = Array.from({ length: parts }, (_, p) => Math.floor(n / parts) + (p < n % parts ? 1 : 0));
    const resumedAt = new Array<number | undefined>(parts).fill(undefined);
    let lastGrowth = nowMs();
    let lastSeen = seen.size;
    while (seen.size < n && nowMs() - lastGrowth < 60_000) {
      await sleep(50);
      scan();
      for (let p = 0; p < parts; p++)
        if (resumedAt[p] === undefined && perPartition[p] > atKill[p] + 0) resumedAt[p] = nowMs() - tKill;
      if (seen.size > lastSeen) {
        lastSeen = seen.size;
        lastGrowth = nowMs();
      }
    }
    const stalled = atKill.map((c, p) => (c < target[p] ? p : -1)).filter((p) => p >= 0);
    const recovery = Math.max(0, ...stalled.map((p) => resumedAt[p] ?? Number.POSITIVE_INFINITY));
    const lost = n - seen.size;
    line(
      'events delivered before the kill',
      `${fmtInt(atKill.reduce((a, b) => a + b, 0))} (per partition ${atKill.join(', ')})`,
    );
    line(
      'events lost (produced − distinct stored)',
      `${fmtInt(lost)} (target 0: ${lost === 0 ? 'met' : 'MISSED'}; stored per partition ${perPartition.join(', ')} of ${target.join(', ')})`,
    );
    line(
      'kill → every undrained partition delivering again',
      stalled.length === 0
        ? 'not measured: every partition was drained before the kill (raise BENCH_SCALE_KILL_N)'
        : `${Number.isFinite(recovery) ? fmtMs(recovery) : 'never'} (target ≤ 30 s: ${recovery <= 30_000 ? 'met' : 'MISSED'})`,
    );
    note(
      `per partition, ms from the kill to its next stored event: ${resumedAt.map((t, p) => `p${p} ${t === undefined ? '-' : Math.round(t)}`).join(', ')} (drained before the kill: ${
        atKill
          .map((c, p) => (c >= target[p] ? `p${p}` : ''))
          .filter(Boolean)
          .join(', ') || 'none'
      })`,
    );
    line('all delivered after the kill', `${fmtMs(nowMs() - tKill)}`);
    line(
      '429 Too Many Requests',
      `${fmtInt(emulator.store.throttled)} (target 0: ${emulator.store.throttled === 0 ? 'met' : 'MISSED'})`,
    );
    printWindows(emulator);
    line('duplicates Klaviyo ignored (re-sent after the kill)', fmtInt(emulator.store.duplicateEventsIgnored));
  } finally {
    await children.stopAll();
    await emulator.close().catch(() => undefined);
    if (config) await deletePrefixedTopics(createKafka(config.kafka), config.kafka.topicPrefix).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  process.stdout.write(`bench:scale  node ${process.version}, ${new Date().toISOString()}\n`);
  const seconds = envInt('BENCH_SCALE_SECONDS', 70);
  const ks = (process.env.BENCH_SCALE_KS ?? '1,2,3')
    .split(',')
    .map(Number)
    .filter((k) => k > 0);
  for (const k of ks) await replicas(k, seconds);
  if (process.env.BENCH_SCALE_SKIP_KILL !== '1')
    await kill(envInt('BENCH_SCALE_KILL_N', 60_000), envInt('BENCH_SCALE_KILL_AFTER_S', 10));
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:scale failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
