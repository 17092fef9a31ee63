/**
 * bench:sink — how fast the sink delivers klaviyo.events.v1 to Klaviyo (the emulator).
 *
 * 1. Limits off: BENCH_N (default 50,000) events are produced to a fresh events topic, then a
 *    SinkRunner delivers them to the Klaviyo emulator; events/s from the first stored event to
 *    the last. Target ≥ 10,000/s.
 * 2. Limits on (bulk_create_events: 10/s burst, 150/min steady): the topic holds more than can
 *    be sent; the sink delivers for BENCH_SINK_LIMITED_SECONDS (default 70). Prints events/s as a
 *    share of the 2,500 events/s bulk ceiling (150 requests/min × 1,000 events / 60 s), the
 *    number of 429s, and how full the bulk requests were. Target ≥ 95 % with zero 429s. The
 *    steady 150/min is the binding limit over a minute: a run that starts with an idle budget
 *    may burst above 2,500/s in its first minute, so the share is also given over the last
 *    60 s of the run (the steady state).
 *
 * Both print peak RSS (this process holds the emulator too; it keeps counts, not events).
 * The events are the mapping of distinct copies of the fixture notifications, spread over
 * BENCH_PEOPLE (default 1,000) people so that they use every partition.
 *
 * Env: BENCH_N, BENCH_SINK_LIMITED_SECONDS, BENCH_PEOPLE, BENCH_TIMEOUT_S (default 300),
 * BENCH_SKIP_UNLIMITED=1, BENCH_SKIP_LIMITED=1, SINK_BATCH_MAX_EVENTS, SINK_BATCH_MAX_WAIT_MS,
 * BENCH_SINK_WINDOW_MARGIN_MS (section 2: SinkRunner(config, new RateBudget({ windowMarginMs })) instead
 * of the deployed RateBudget, to try a margin against arrival jitter), BENCH_KEEP_TOPICS=1.
 */
import { prepareFreshTopics } from '../tools/support/fresh-topics';
import { Logger } from '@nestjs/common';
import type { Message } from 'kafkajs';
import type { Config } from '@iks/config';
import type { KlaviyoEventRecord } from '@iks/domain';
import { createKafka, eventToAvro, topicName } from '@iks/kafka';
import { mapNotification, staticLookups } from '@iks/mapping';
import { RateBudget } from '@iks/klaviyo';
import { createSinkRunner, type SinkRunner } from '@iks/sink';
import { startKlaviyoEmulator, type KlaviyoEmulator } from '../tools/klaviyo-emulator/src';
import {
  benchConfig,
  deletePrefixedTopics,
  distinctCopy,
  encodeAll,
  envInt,
  fixtureDirectory,
  fmtInt,
  fmtMiB,
  fmtMs,
  fmtRate,
  heading,
  line,
  mappableFixtureMix,
  note,
  nowMs,
  pct,
  percentiles,
  produceMessages,
  RssSampler,
  sleep,
} from './bench-util';

const UNLIMITED_TARGET = 10_000;
const BULK_CEILING = (150 * 1000) / 60; // events/s
const SHARE_TARGET = 0.95;

Logger.overrideLogger(['error', 'warn']);

async function main(): Promise<void> {
  const n = envInt('BENCH_N', 50_000);
  const limitedSeconds = envInt('BENCH_SINK_LIMITED_SECONDS', 70);
  const people = envInt('BENCH_PEOPLE', 1000);
  const timeoutMs = envInt('BENCH_TIMEOUT_S', 300) * 1000;
  process.stdout.write(`bench:sink  node ${process.version}, ${new Date().toISOString()}\n`);
  if (process.env.BENCH_SKIP_UNLIMITED !== '1') {
    await benchUnlimited(n, people, timeoutMs, 'default');
    await benchUnlimited(n, people, timeoutMs, 'lifted');
  }
  if (process.env.BENCH_SKIP_LIMITED !== '1') await benchLimited(limitedSeconds, people);
}

/** N distinct Klaviyo events: the mapping of distinct fixture copies, spread over `people` people. */
function makeEvents(n: number, people: number, tag: string): KlaviyoEventRecord[] {
  const lookups = staticLookups(fixtureDirectory());
  const mix = mappableFixtureMix();
  const out: KlaviyoEventRecord[] = [];
  for (let i = 0; out.length < n; i++) {
    const e = distinctCopy(mix[i % mix.length], i, tag);
    const o = mapNotification(
      { notificationId: e.id, topic: e.topic, createdAt: e.created_at, source: 'webhook', body: e },
      lookups,
    );
    if (o.kind !== 'records') continue;
    for (const r of o.records) {
      if (r.kind !== 'event' || out.length >= n) continue;
      const p = out.length % people;
      const email = r.profile.email ? r.profile.email.replace('@', `+p${p}@`) : `person${p}@bench.example.com`;
      // unique_ids of contact-tag and some ticket events do not depend on the copied item id: make every one distinct
      out.push({
        ...r,
        profile: { email },
        intercom_contact_id: `${r.intercom_contact_id ?? 'c'}-p${p}`,
        unique_id: `${r.unique_id}:${tag}${out.length}`,
      });
    }
  }
  return out;
}

interface Prepared {
  config: Config;
  eventsTopic: string;
  bytes: number;
  produceMs: number;
}

async function prepareTopic(n: number, people: number, env: Record<string, string>): Promise<Prepared> {
  const config = benchConfig('sink', { KLAVIYO_API_KEY: 'pk_bench_0000000000000000000000000', ...env });
  const kafka = createKafka(config.kafka);
  const codec = await prepareFreshTopics(config);
  const eventsTopic = topicName('events', config.kafka.topicPrefix);
  let bytes = 0;
  let produceMs = 0;
  // in slices, so that the records and their encodings never all sit in memory at once
  const slice = 25_000;
  for (let at = 0; at < n; at += slice) {
    const events = makeEvents(Math.min(slice, n - at), people, `s${at}-`);
    const values = await encodeAll(codec, eventsTopic, events, eventToAvro);
    const messages: Message[] = events.map((e, i) => ({ key: e.intercom_contact_id ?? e.unique_id, value: values[i] }));
    bytes += values.reduce((s, b) => s + b.length, 0);
    produceMs += await produceMessages(kafka, eventsTopic, messages);
  }
  return { config, eventsTopic, bytes, produceMs };
}

async function cleanup(config: Config): Promise<void> {
  if (process.env.BENCH_KEEP_TOPICS === '1') return;
  await deletePrefixedTopics(createKafka(config.kafka), config.kafka.topicPrefix).catch(() => undefined);
}

function sinkEnv(emulator: KlaviyoEmulator): Record<string, string> {
  const env: Record<string, string> = { KLAVIYO_BASE_URL: emulator.url };
  for (const k of ['SINK_BATCH_MAX_EVENTS', 'SINK_BATCH_MAX_WAIT_MS']) if (process.env[k]) env[k] = process.env[k]!;
  return env;
}

/** Sizes of the bulk requests the emulator answered 202 (from its request log). */
function bulkRequestSizes(emulator: KlaviyoEmulator): { sizes: number[]; statuses: Record<string, number> } {
  const sizes: number[] = [];
  const statuses: Record<string, number> = {};
  for (const e of emulator.store.requestLog()) {
    if (!e.path.includes('event-bulk-create-jobs')) continue;
    statuses[e.status] = (statuses[e.status] ?? 0) + 1;
    if (e.status >= 200 && e.status < 300 && e.events !== undefined) sizes.push(e.events);
  }
  return { sizes, statuses };
}

function printRequests(emulator: KlaviyoEmulator): void {
  const { sizes, statuses } = bulkRequestSizes(emulator);
  const p = percentiles(sizes, [0, 50, 90, 100]);
  const mean = sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0;
  line(
    'bulk requests (status: count)',
    Object.entries(statuses)
      .map(([k, v]) => `${k}: ${fmtInt(v)}`)
      .join(', ') || 'none',
  );
  line(
    'events per accepted bulk request',
    `mean ${fmtInt(mean)} (fill ${pct(mean / 1000)}), min ${fmtInt(p.p0)}, p50 ${fmtInt(p.p50)}, p90 ${fmtInt(p.p90)}, max ${fmtInt(p.p100)}`,
  );
}

// ------------------------------------------------------------------------------------ 1

/**
 * budget 'default': SinkRunner(config) as deployed, whose RateBudget still holds bulk requests
 * at Klaviyo's 10/s and 150/min even though the emulator does not enforce them.
 * budget 'lifted': SinkRunner(config, RateBudget with no practical limit): the sink's own ceiling.
 */
async function benchUnlimited(
  n: number,
  people: number,
  timeoutMs: number,
  budget: 'default' | 'lifted',
): Promise<void> {
  heading(
    budget === 'default'
      ? `1a. limits off: ${fmtInt(n)} events, SinkRunner(config) → Klaviyo emulator (the sink's RateBudget as deployed)`
      : `1b. limits off: ${fmtInt(n)} events, SinkRunner(config, RateBudget lifted) → Klaviyo emulator (the sink's own ceiling)`,
  );
  const emulator = await startKlaviyoEmulator({ port: 0, limits: false, retainEvents: false });
  let runner: SinkRunner | undefined;
  let prepared: Prepared | undefined;
  try {
    prepared = await prepareTopic(n, people, sinkEnv(emulator));
    const { config } = prepared;
    line(
      'produced events',
      `${fmtInt(n)} (${fmtMiB(prepared.bytes)}) in ${fmtMs(prepared.produceMs)} to ${prepared.eventsTopic}`,
    );
    note(
      `emulator ${emulator.url} (limits off, in this process); sink batch max ${config.sink.batchMaxEvents} events, wait ${config.sink.batchMaxWaitMs} ms`,
    );
    if (global.gc) global.gc();
    const rss = new RssSampler().start();
    const lifted = { burst: 1_000_000, steady: 1_000_000_000 };
    runner =
      budget === 'default'
        ? await createSinkRunner(config)
        : await createSinkRunner(config, {
            budget: new RateBudget({ limits: { 'events-bulk': lifted, events: lifted, 'profile-import': lifted } }),
          });
    const tStart = nowMs();
    let tFirst = 0;
    let firstAt = 0;
    const stored = () => emulator.store.eventsStored;
    const watch = setInterval(() => {
      if (tFirst === 0 && stored() > 0) {
        tFirst = nowMs();
        firstAt = stored();
      }
    }, 2);
    await runner.start();
    const tReady = nowMs();
    const deadline = Date.now() + timeoutMs;
    while (stored() < n && Date.now() < deadline) await sleep(5);
    const tEnd = nowMs();
    clearInterval(watch);
    const peak = rss.stop();
    if (stored() < n) note(`TIMED OUT after ${fmtMs(timeoutMs)}: ${fmtInt(stored())} of ${fmtInt(n)} events stored`);
    const rate = ((stored() - firstAt) / (tEnd - tFirst)) * 1000;
    line('start() incl. topics, schemas, group join', fmtMs(tReady - tStart));
    line('first event stored after start()', fmtMs(tFirst - tStart));
    line(
      'delivered (first stored → all stored)',
      `${fmtRate(rate, 'events')}  (target ≥ ${fmtInt(UNLIMITED_TARGET)}/s: ${rate >= UNLIMITED_TARGET ? 'met' : 'MISSED'})`,
    );
    line('  wall time of that span', fmtMs(tEnd - tFirst));
    line('  incl. start-up (start() → all stored)', fmtRate((stored() / (tEnd - tStart)) * 1000, 'events'));
    line(
      'events stored / duplicates ignored',
      `${fmtInt(stored())} / ${fmtInt(emulator.store.duplicateEventsIgnored)}`,
    );
    printRequests(emulator);
    line(
      'dead-lettered / Klaviyo retries',
      `${fmtInt(runner.tally.count('dead_letter'))} / ${fmtInt(runner.retryCount)}`,
    );
    line('peak RSS (sink + emulator, one process)', fmtMiB(peak));
  } finally {
    await runner?.stop().catch(() => undefined);
    await emulator.close().catch(() => undefined);
    if (prepared) await cleanup(prepared.config);
  }
}

// ------------------------------------------------------------------------------------ 2

async function benchLimited(seconds: number, people: number): Promise<void> {
  const n = Math.ceil(BULK_CEILING * seconds * 1.5) + 10_000; // more than the first minute's burst can take
  heading(`2. limits on (bulk 10/s, 150/min): ${seconds} s of delivery from a topic of ${fmtInt(n)} events`);
  const emulator = await startKlaviyoEmulator({ port: 0, limits: true, retainEvents: false });
  let runner: SinkRunner | undefined;
  let prepared: Prepared | undefined;
  try {
    prepared = await prepareTopic(n, people, sinkEnv(emulator));
    const { config } = prepared;
    line('produced events', `${fmtInt(n)} (${fmtMiB(prepared.bytes)}) in ${fmtMs(prepared.produceMs)}`);
    if (global.gc) global.gc();
    const rss = new RssSampler().start();
    const margin = process.env.BENCH_SINK_WINDOW_MARGIN_MS;
    runner = margin
      ? await createSinkRunner(config, { budget: new RateBudget({ windowMarginMs: Number(margin) }) })
      : await createSinkRunner(config);
    if (margin) note(`RateBudget windowMarginMs ${margin} (BENCH_SINK_WINDOW_MARGIN_MS)`);
    await runner.start();
    // timeline of (ms since first stored event, events stored)
    const stored = () => emulator.store.eventsStored;
    const firstDeadline = Date.now() + 60_000;
    while (stored() === 0 && Date.now() < firstDeadline) await sleep(2);
    const t0 = nowMs();
    const timeline: Array<[number, number]> = [[0, stored()]];
    while (nowMs() - t0 < seconds * 1000) {
      await sleep(100);
      timeline.push([nowMs() - t0, stored()]);
    }
    const elapsed = nowMs() - t0;
    const total = stored();
    const peak = rss.stop();
    const at = (ms: number) => {
      let v = timeline[0][1];
      for (const [t, c] of timeline) if (t <= ms) v = c;
      return v;
    };
    const rate = (total / elapsed) * 1000;
    const last60 = elapsed >= 60_000 ? ((total - at(elapsed - 60_000)) / 60_000) * 1000 : NaN;
    const first60 = elapsed >= 60_000 ? (at(60_000) / 60_000) * 1000 : NaN;
    line('events delivered', `${fmtInt(total)} in ${fmtMs(elapsed)} (from the first stored event)`);
    line(
      "whole run (incl. the idle budget's first-minute burst)",
      `${fmtRate(rate, 'events')} = ${pct(rate / BULK_CEILING)} of ${fmtInt(BULK_CEILING)}/s`,
    );
    line(
      'first 60 s',
      Number.isNaN(first60)
        ? 'n/a (run < 60 s)'
        : `${fmtRate(first60, 'events')} = ${pct(first60 / BULK_CEILING)} of the ceiling`,
    );
    line(
      'last 60 s (steady state)',
      Number.isNaN(last60)
        ? 'n/a (run < 60 s)'
        : `${fmtRate(last60, 'events')} = ${pct(last60 / BULK_CEILING)} of the ceiling  (target ≥ ${pct(SHARE_TARGET)}: ${last60 / BULK_CEILING >= SHARE_TARGET ? 'met' : 'MISSED'})`,
    );
    line(
      '429 Too Many Requests',
      `${fmtInt(emulator.store.throttled)}  (target 0: ${emulator.store.throttled === 0 ? 'met' : 'MISSED'})`,
    );
    printRequests(emulator);
    const peaks = emulator.store.windowPeaks();
    const seen = peaks.seen.bulk_create_events;
    const admitted = peaks.admitted.bulk_create_events;
    if (seen)
      line(
        'bulk requests per fixed window (peak seen)',
        `${seen.perSecond}/s, ${seen.perMinute}/min (admitted ${admitted?.perSecond ?? 0}/s, ${admitted?.perMinute ?? 0}/min)`,
      );
    note(`rate budget at the end: ${JSON.stringify(runner.deliverer.caller.budget.usage('events-bulk'))}`);
    const perInterval: string[] = [];
    for (let s = 10; s <= Math.floor(elapsed / 1000); s += 10)
      perInterval.push(`${s}s ${fmtInt(at(s * 1000) - at((s - 10) * 1000))}`);
    note(`events stored per 10 s: ${perInterval.join(', ')}`);
    line('peak RSS (sink + emulator, one process)', fmtMiB(peak));
  } finally {
    await runner?.stop().catch(() => undefined);
    await emulator.close().catch(() => undefined);
    if (prepared) await cleanup(prepared.config);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:sink failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
