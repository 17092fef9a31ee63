/**
 * bench:console — the delivery console's read model with a million outcomes (issue #13).
 *
 * 1. Ingest: BENCH_N (default 1,000,000) delivery outcomes and BENCH_LETTERS (default 2,000) dead
 *    letters are produced to fresh klaviyo.outcomes.v1 / klaviyo.events.v1.dlq topics; then the
 *    built console starts as its own process and builds its read model from them, from the
 *    beginning, as it does on every start. Outcomes/s from the first outcome in the read model to
 *    the last (polling /api/status every 100 ms). Target ≥ 20,000/s.
 * 2. Pages: with all of them in the read model, each page is fetched BENCH_PAGE_RUNS (default 50)
 *    times, one request at a time; p50 / p99 / max per page. Target < 300 ms.
 * 3. Memory: the console's RSS and V8 heap once caught up (its own figures), and its peak RSS.
 * 4. The read model alone, in this process (no Kafka, no decoding): outcomes applied per second and
 *    the heap it retains per outcome (after a full GC; run with --expose-gc, as the npm script does).
 *
 * The outcomes are the mapped fixture events (real properties), spread over BENCH_PEOPLE
 * (default 100,000) people and the last 7 days, with 2 % repeats, 1 % retried, 1 % skipped and
 * 0.5 % dead-lettered, as a sink under load would publish them.
 *
 * Env: BENCH_N, BENCH_LETTERS, BENCH_PEOPLE, BENCH_PAGE_RUNS, BENCH_TIMEOUT_S (default 600), BENCH_KEEP_TOPICS=1, BENCH_VERBOSE=1.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { Message } from 'kafkajs';
import type { DeliveryOutcome } from '@iks/domain';
import { createKafka, dlqName, deadLetterToAvro, eventToAvro, outcomeToAvro, topicName } from '@iks/kafka';
import { mapNotification, METRICS, staticLookups } from '@iks/mapping';
import { DeliveryReadModel } from '@iks/console';
import { ChildProcesses, vmHwm } from './support/child-processes';
import { prepareFreshTopics } from '../tools/support/fresh-topics';
import {
  benchConfig,
  deletePrefixedTopics,
  distinctCopy,
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
  percentiles,
  produceMessages,
  sleep,
} from './bench-util';

const INGEST_TARGET = 20_000;
const PAGE_TARGET_MS = 300;
const CONSOLE_MAIN = join(__dirname, '..', 'apps', 'console', 'src', 'main.js');
const DAY = 86_400_000;

Logger.overrideLogger(['error', 'warn']);

/** Property sets as the mapping sends them, by metric: the mapped fixture events. */
function propertyTemplates(): Array<{ metric: string; properties: string }> {
  const lookups = staticLookups(fixtureDirectory());
  const out: Array<{ metric: string; properties: string }> = [];
  for (const [i, e] of mappableFixtureMix().entries()) {
    const copy = distinctCopy(e, i, 'console');
    const o = mapNotification(
      { notificationId: copy.id, topic: copy.topic, createdAt: copy.created_at, source: 'webhook', body: copy },
      lookups,
    );
    if (o.kind !== 'records') continue;
    for (const r of o.records)
      if (r.kind === 'event') out.push({ metric: r.metric, properties: JSON.stringify(r.properties) });
  }
  return out;
}

/** Outcome number i of the run: deterministic, spread over people, metrics and the last 7 days. */
function outcomeAt(
  i: number,
  n: number,
  people: number,
  templates: ReturnType<typeof propertyTemplates>,
  now: number,
  eventsTopic: string,
): DeliveryOutcome {
  const t = templates[i % templates.length];
  const p = (i * 7919) % people;
  const r = i % 200;
  const kind = r < 2 ? 'retried' : r < 4 ? 'skipped' : r === 4 ? 'dead_lettered' : 'delivered';
  // 2 % repeats: the same unique_id as an earlier outcome (a redelivery Klaviyo drops)
  const u = r >= 5 && r < 9 && i > 1000 ? i - 1000 : i;
  const at = now - 7 * DAY + Math.floor((i / n) * 7 * DAY);
  return {
    topic: eventsTopic,
    partition: i % 3,
    offset: String(Math.floor(i / 3)),
    stage: 'sink',
    kind,
    reason:
      kind === 'delivered'
        ? 'delivered'
        : kind === 'skipped'
          ? 'contact_deleted'
          : kind === 'retried'
            ? 'KlaviyoApiError: 429 throttled'
            : 'KlaviyoRejectedError: 400 invalid phone_number',
    error_code: kind === 'dead_lettered' ? 'invalid' : null,
    record_kind: 'event',
    metric: t.metric,
    unique_id: `bench-${u}`,
    intercom_contact_id: `6762f0d0bench${String(p).padStart(8, '0')}`,
    email: `person${p}@bench.example.com`,
    phone_number: p % 3 === 0 ? `+4420794${String(p % 100_000).padStart(5, '0')}` : null,
    event_time: new Date(at - 5000).toISOString(),
    received_at: at - 1200,
    record_timestamp: at - 800,
    outcome_at: at,
    properties_json: t.properties,
    backfill: false,
    source_notification_id: `notif_bench_${i}`,
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Status {
  outcomes: number;
  deadLetters: number;
  heapUsedBytes: number;
  rssBytes: number;
}

async function status(base: string): Promise<Status | null> {
  return fetch(`${base}/api/status`).then(
    (r) => (r.ok ? (r.json() as Promise<Status>) : null),
    () => null,
  );
}

/** Section 4: DeliveryReadModel.apply without Kafka; retained heap per outcome after a full GC. */
function modelAlone(
  n: number,
  people: number,
  templates: ReturnType<typeof propertyTemplates>,
  now: number,
  eventsTopic: string,
): void {
  heading('the read model alone, in this process');
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const model = new DeliveryReadModel();
  const t = nowMs();
  for (let i = 0; i < n; i++) model.apply(outcomeAt(i, n, people, templates, now, eventsTopic));
  const ms = nowMs() - t;
  gc?.();
  const retained = process.memoryUsage().heapUsed - before;
  line('apply (outcomes generated in the loop too)', fmtRate(n / (ms / 1000), 'outcomes'));
  line(
    'heap retained',
    gc ? `${fmtMiB(retained)}, ${fmtInt(retained / model.outcomes)} B per outcome` : 'run with --expose-gc',
  );
}

async function main(): Promise<void> {
  const n = envInt('BENCH_N', 1_000_000);
  const letters = envInt('BENCH_LETTERS', 2000);
  const people = envInt('BENCH_PEOPLE', 100_000);
  const runs = envInt('BENCH_PAGE_RUNS', 50);
  const timeoutMs = envInt('BENCH_TIMEOUT_S', 600) * 1000;
  process.stdout.write(`bench:console  node ${process.version}, ${new Date().toISOString()}\n`);

  const config = benchConfig('cli');
  const prefix = config.kafka.topicPrefix;
  const kafka = createKafka(config.kafka);
  const children = new ChildProcesses();
  try {
    const codec = await prepareFreshTopics(config);
    const outcomesTopic = topicName('outcomes', prefix);
    const eventsTopic = topicName('events', prefix);
    const dlqTopic = dlqName(eventsTopic);
    const templates = propertyTemplates();
    const now = Date.now();

    heading(`producing ${fmtInt(n)} outcomes and ${fmtInt(letters)} dead letters`);
    let bytes = 0;
    let produceMs = 0;
    const chunk = 50_000;
    for (let from = 0; from < n; from += chunk) {
      const messages: Message[] = [];
      for (let i = from; i < Math.min(n, from + chunk); i++) {
        const o = outcomeAt(i, n, people, templates, now, eventsTopic);
        const value = await codec.encode(outcomesTopic, outcomeToAvro(o));
        bytes += value.length;
        messages.push({ key: o.intercom_contact_id, value });
      }
      produceMs += await produceMessages(kafka, outcomesTopic, messages);
    }
    const dead: Message[] = [];
    for (let i = 0; i < letters; i++) {
      const o = outcomeAt(i, n, people, templates, now, eventsTopic);
      const original = await codec.encode(
        eventsTopic,
        eventToAvro({
          kind: 'event',
          metric: o.metric!,
          unique_id: o.unique_id!,
          time: o.event_time!,
          profile: { email: o.email! },
          properties: JSON.parse(o.properties_json!),
          backfill: false,
          intercom_contact_id: o.intercom_contact_id,
          source_notification_id: o.source_notification_id!,
          source_topic: 'ticket.state.updated',
        }),
      );
      dead.push({
        key: o.intercom_contact_id,
        value: await codec.encode(
          dlqTopic,
          deadLetterToAvro({
            original_topic: eventsTopic,
            partition: o.partition,
            offset: o.offset,
            key: Buffer.from(o.intercom_contact_id!),
            value: original,
            headers: [{ key: 'iks-source', value: 'bench' }],
            stage: 'sink',
            error_class: 'KlaviyoRejectedError',
            error_message: `400 invalid phone_number (${i % 4})`,
            error_code: 'invalid',
            retriable: false,
            attempts: 1,
            first_failure_at: o.outcome_at,
            last_failure_at: o.outcome_at,
          }),
        ),
      });
    }
    await produceMessages(kafka, dlqTopic, dead);
    line('outcomes produced', `${fmtInt(n)} (${fmtMiB(bytes)} Avro, ${fmtRate(n / (produceMs / 1000), 'outcomes')})`);

    heading('ingest: the console builds its read model from the topics');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const t0 = nowMs();
    const child = children.start(
      'console',
      CONSOLE_MAIN,
      {
        PATH: process.env.PATH,
        KAFKA_BROKERS: config.kafka.brokers.join(','),
        SCHEMA_REGISTRY_URL: config.kafka.schemaRegistryUrl,
        TOPIC_PREFIX: prefix,
        TRANSFORMER_GROUP_ID: config.transformer.groupId,
        SINK_GROUP_ID: config.sink.groupId,
        CONSOLE_PORT: String(port),
        LOG_LEVEL: 'warn',
        LOG_FORMAT: 'json',
      },
      { verbose: process.env.BENCH_VERBOSE === '1' },
    );
    let first: { t: number; outcomes: number } | null = null;
    let last: Status | null = null;
    for (;;) {
      if (nowMs() - t0 > timeoutMs)
        throw new Error(`the read model holds ${last?.outcomes ?? 0} of ${n} outcomes after ${timeoutMs / 1000} s`);
      if (child.proc.exitCode !== null) throw new Error('the console exited');
      const s = await status(base);
      if (s) {
        if (!first && s.outcomes > 0) first = { t: nowMs(), outcomes: s.outcomes };
        last = s;
        if (s.outcomes >= n && s.deadLetters >= letters) break;
      }
      await sleep(100);
    }
    const done = nowMs();
    const rate = (n - first!.outcomes) / ((done - first!.t) / 1000);
    line('start to caught up (boot, group join, read)', fmtMs(done - t0));
    line(
      'read model ingest rate',
      `${fmtRate(rate, 'outcomes')}  (target ≥ ${fmtInt(INGEST_TARGET)}/s: ${rate >= INGEST_TARGET ? 'met' : 'MISSED'})`,
    );

    heading(`pages with ${fmtInt(last!.outcomes)} outcomes in the read model (${runs} requests each, one at a time)`);
    const pages: Array<[string, string]> = [
      ['Metrics', '/metrics'],
      ['Metrics, latest events of a metric', `/metrics?metric=${encodeURIComponent(METRICS.ticketResolved)}`],
      ['Person by email', `/person?q=${encodeURIComponent('person4242@bench.example.com')}`],
      ['Person by contact id', `/person?q=6762f0d0bench${String(4243).padStart(8, '0')}`],
      ['Person, nobody', '/person?q=nobody%40bench.example.com'],
      ['Pipeline', '/pipeline'],
      ['Gaps', '/gaps'],
      ['Dead letter', `/dead-letters/${encodeURIComponent(`${dlqTopic}:0:0`)}`],
    ];
    let worst = 0;
    for (const [label, path] of pages) {
      const times: number[] = [];
      let size = 0;
      for (let i = 0; i < runs; i++) {
        const t = nowMs();
        const res = await fetch(base + path);
        const body = await res.text();
        times.push(nowMs() - t);
        if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${body.slice(0, 200)}`);
        size = body.length;
      }
      const p = percentiles(times, [50, 99, 100]);
      worst = Math.max(worst, p.p99);
      line(label, `p50 ${fmtMs(p.p50)}, p99 ${fmtMs(p.p99)}, max ${fmtMs(p.p100)}  (${fmtInt(size / 1024)} KiB)`);
    }
    line(
      'slowest page p99',
      `${fmtMs(worst)}  (target < ${PAGE_TARGET_MS} ms: ${worst < PAGE_TARGET_MS ? 'met' : 'MISSED'})`,
    );

    heading('memory of the console');
    const s = (await status(base))!;
    line('RSS / V8 heap used, caught up', `${fmtMiB(s.rssBytes)} / ${fmtMiB(s.heapUsedBytes)}`);
    line('peak RSS (VmHWM)', fmtMiB(vmHwm(child.proc.pid) ?? NaN));
    line('heap per outcome held', `${fmtInt(s.heapUsedBytes / s.outcomes)} B`);
    note(
      'bounded: a minute ring per metric for 7 days, the 50 latest per metric, a person index of 1,000,000 outcomes and 200 per person, 10,000 dead letters',
    );
    modelAlone(n, people, templates, now, eventsTopic);
  } finally {
    await children.stopAll();
    if (process.env.BENCH_KEEP_TOPICS !== '1') await deletePrefixedTopics(kafka, prefix);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:console failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
