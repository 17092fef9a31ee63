/**
 * bench:transform — how fast notifications become Klaviyo records.
 *
 * 1. Pure mapping: mapNotification over a mix of the fixture notifications (conversation,
 *    ticket and contact topics, distinct ids) with staticLookups from the fixtures' directory
 *    files. Warm-up, then a timed run on this one thread. Target ≥ 50,000/s.
 * 2. Stage costs: the per-notification work of the transformer without the broker (Avro
 *    decode, JSON.parse + directory + mapping, Avro encode), to see where the time goes.
 * 3. Through the real broker: BENCH_N (default 50,000) raw notifications are produced to a
 *    fresh prefixed raw topic first, then a TransformerRunner consumes them; measured from the
 *    start of consumption to every offset committed (outputs are acknowledged before the
 *    commit). Target ≥ 5,000/s. Prints peak RSS.
 *
 * Env: BENCH_N, BENCH_MAP_SECONDS (timed mapping run, default 3), BENCH_TIMEOUT_S (default 300),
 * BENCH_SKIP_BROKER=1 (sections 1-2 only), BENCH_SKIP_MAPPING=1 (section 3 only, e.g. under
 * node --cpu-prof), BENCH_EXCLUDE_FIXTURES=a,b (fixture files left out of the mix), BENCH_KEEP_TOPICS=1, KAFKA_BROKERS, SCHEMA_REGISTRY_URL.
 */
import { Logger } from '@nestjs/common';
import type { Message } from 'kafkajs';
import type { ContactSnapshot, KlaviyoRecord } from '@iks/domain';
import {
  AvroCodec,
  createKafka,
  ensureTopics,
  contactToAvro,
  deletionToAvro,
  eventToAvro,
  notificationToAvro,
  profileToAvro,
  topicName,
  type TopicRecords,
} from '@iks/kafka';
import { mapNotification, staticLookups, type IntercomNotificationInput, type MapOutcome } from '@iks/mapping';
import { Directory, NO_INTERCOM_API } from '@iks/directory';
import { createTransformerRunner, processNotification, type TransformerRunner } from '@iks/transformer';
import {
  benchConfig,
  deletePrefixedTopics,
  distinctEnvelopes,
  encodeAll,
  entityKeyOf,
  envInt,
  fixtureDirectory,
  fmtInt,
  fmtMiB,
  fmtMs,
  fmtRate,
  heading,
  line,
  mappedFixtureMix,
  note,
  nowMs,
  produceMessages,
  rawNotificationOf,
  RssSampler,
  sleep,
  timed,
  type FixtureEnvelope,
} from './bench-util';

const MAP_TARGET = 50_000;
const BROKER_TARGET = 5_000;

Logger.overrideLogger(['error', 'warn']);

async function main(): Promise<void> {
  const n = envInt('BENCH_N', 50_000);
  const mapSeconds = envInt('BENCH_MAP_SECONDS', 3);
  const timeoutMs = envInt('BENCH_TIMEOUT_S', 300) * 1000;
  const rss = new RssSampler().start();
  process.stdout.write(`bench:transform  node ${process.version}, ${new Date().toISOString()}\n`);

  const mix = mappedFixtureMix();
  if (process.env.BENCH_SKIP_MAPPING !== '1') {
    benchMapping(mix, mapSeconds);
    await benchStages(mix);
    line('peak RSS (sections 1-2)', fmtMiB(rss.peak()));
  }
  if (process.env.BENCH_SKIP_BROKER === '1') return;
  await benchBroker(mix, n, timeoutMs);
}

// ------------------------------------------------------------------------------------ 1

function benchMapping(mix: readonly FixtureEnvelope[], seconds: number): void {
  heading('1. pure mapping (mapNotification + staticLookups, one thread)');
  const dir = fixtureDirectory();
  const lookups = staticLookups(dir);
  const count = 10_000;
  const inputs: IntercomNotificationInput[] = distinctEnvelopes(mix, count, 'map').map((e) => ({
    notificationId: e.id,
    topic: e.topic,
    createdAt: e.created_at,
    source: 'webhook',
    body: e,
  }));
  const families = new Map<string, number>();
  for (const e of mix) families.set(e.topic.split('.')[0], (families.get(e.topic.split('.')[0]) ?? 0) + 1);
  note(
    `mix: ${mix.length} fixtures (${[...families].map(([k, v]) => `${v} ${k}`).join(', ')}), ${fmtInt(count)} distinct notifications, body already parsed`,
  );

  const outcomes = new Map<string, number>();
  let records = 0;
  let sink = 0;
  const run = (collect: boolean): void => {
    for (let i = 0; i < inputs.length; i++) {
      const o: MapOutcome = mapNotification(inputs[i], lookups);
      if (o.kind === 'records') sink += o.records.length;
      if (collect) {
        const k = o.kind === 'records' ? 'records' : `${o.kind}`;
        outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
        if (o.kind === 'records') records += o.records.length;
      }
    }
  };
  run(true);
  note(
    `outcomes per ${fmtInt(count)}: ${[...outcomes].map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')}; ${fmtInt(records)} Klaviyo records`,
  );

  // warm-up: ~1 s
  const w0 = nowMs();
  while (nowMs() - w0 < 1000) run(false);

  // timed: whole passes until `seconds` elapsed
  const samples: number[] = [];
  let done = 0;
  const t0 = nowMs();
  while (nowMs() - t0 < seconds * 1000) {
    const p0 = nowMs();
    run(false);
    samples.push((inputs.length / (nowMs() - p0)) * 1000);
    done += inputs.length;
  }
  const ms = nowMs() - t0;
  const rate = (done / ms) * 1000;
  samples.sort((a, b) => a - b);
  line(
    'mapping throughput',
    `${fmtRate(rate, 'notifications')}  (target ≥ ${fmtInt(MAP_TARGET)}/s: ${rate >= MAP_TARGET ? 'met' : 'MISSED'})`,
  );
  line('  per notification', `${((ms * 1000) / done).toFixed(2)} µs (${fmtInt(done)} in ${fmtMs(ms)})`);
  line(
    '  passes of 10k: slowest / median / fastest',
    `${fmtInt(samples[0])} / ${fmtInt(samples[Math.floor(samples.length / 2)])} / ${fmtInt(samples[samples.length - 1])} notifications/s`,
  );

  // including JSON.parse of the raw body, which the transformer also pays per record
  const bodies = inputs.map((x) => JSON.stringify(x.body));
  const withParse = (): void => {
    for (let i = 0; i < inputs.length; i++) {
      const o = mapNotification({ ...inputs[i], body: JSON.parse(bodies[i]) }, lookups);
      if (o.kind === 'records') sink += o.records.length;
    }
  };
  withParse();
  const p0 = nowMs();
  let pd = 0;
  while (nowMs() - p0 < Math.max(1000, (seconds * 1000) / 2)) {
    withParse();
    pd += inputs.length;
  }
  const pms = nowMs() - p0;
  line('mapping incl. JSON.parse(body)', fmtRate((pd / pms) * 1000, 'notifications'));
  if (sink < 0) process.stdout.write('');
}

// ------------------------------------------------------------------------------------ 2

/** Per-stage cost of the transformer's per-record work, in-process (registry-cached codec, no broker I/O). */
async function benchStages(mix: readonly FixtureEnvelope[]): Promise<void> {
  heading('2. transformer stage costs without the broker (one thread, 10,000 notifications)');
  const config = benchConfig('transformer');
  const codec = new AvroCodec(config.kafka);
  await codec.registerAll();
  const p = config.kafka.topicPrefix;
  const raw = topicName('notifications', p);
  const count = 10_000;
  const envelopes = distinctEnvelopes(mix, count, 'stage');
  const encodedRaw = await encodeAll(codec, raw, envelopes, (e) => notificationToAvro(rawNotificationOf(e)));
  // warm the codec's schema cache and the JIT
  for (let i = 0; i < 500; i++) await codec.decodeAs('notifications', encodedRaw[i]);

  const directory = new Directory(NO_INTERCOM_API, 15 * 60_000);
  const dir = fixtureDirectory();
  for (const c of dir.contacts) directory.remember(c);

  const dec = await timed(async () => {
    const out: TopicRecords['notifications'][] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = await codec.decodeAs('notifications', encodedRaw[i]);
    return out;
  });
  const proc = await timed(async () => {
    const outs: Array<{ records: KlaviyoRecord[]; snapshots: ContactSnapshot[] }> = [];
    for (const r of dec.value) outs.push(await processNotification(r, directory, {}));
    return outs;
  });
  const records = proc.value.flatMap((o) => o.records);
  const snapshots = proc.value.flatMap((o) => o.snapshots);
  const enc = await timed(async () => {
    for (const r of records) {
      if (r.kind === 'event') await codec.encode(topicName('events', p), eventToAvro(r));
      else if (r.kind === 'profile') await codec.encode(topicName('profiles', p), profileToAvro(r));
      else await codec.encode(topicName('deletions', p), deletionToAvro(r));
    }
    for (const s of snapshots) await codec.encode(topicName('contacts', p), contactToAvro(s));
  });
  const per = (ms: number) => `${((ms * 1000) / count).toFixed(1)} µs/notification`;
  line(
    'Avro decode raw (registry client) + fromAvro',
    `${per(dec.ms)}  (${fmtRate((count / dec.ms) * 1000, 'notifications')})`,
  );
  line('JSON.parse + directory + mapping', `${per(proc.ms)}  (${fmtRate((count / proc.ms) * 1000, 'notifications')})`);
  line(
    'Avro encode outputs',
    `${per(enc.ms)}  (${fmtInt(records.length)} records + ${fmtInt(snapshots.length)} snapshots)`,
  );
  const total = dec.ms + proc.ms + enc.ms;
  line('sum: CPU ceiling before Kafka I/O', `${per(total)}  (${fmtRate((count / total) * 1000, 'notifications')})`);
}

// ------------------------------------------------------------------------------------ 3

async function benchBroker(mix: readonly FixtureEnvelope[], n: number, timeoutMs: number): Promise<void> {
  heading(`3. through the real broker (TransformerRunner, ${fmtInt(n)} raw notifications)`);
  const config = benchConfig('transformer', { LOG_LEVEL: 'warn' });
  const prefix = config.kafka.topicPrefix;
  const kafka = createKafka(config.kafka);
  const codec = new AvroCodec(config.kafka);
  const admin = kafka.admin();
  await admin.connect();
  let runner: TransformerRunner | undefined;
  const rss = new RssSampler();
  try {
    await ensureTopics(admin, config.kafka);
    await codec.registerAll();
    const raw = topicName('notifications', prefix);
    note(`topics ${prefix}* (${config.kafka.partitions} partitions), group ${config.transformer.groupId}`);

    // The directory topic holds the fixture contacts, as it would in a running system.
    const contactsTopic = topicName('contacts', prefix);
    const now = Date.now();
    const snaps: ContactSnapshot[] = fixtureDirectory().contacts.map((c) => ({
      id: String(c.id),
      deleted: false,
      contact_json: JSON.stringify(c),
      recorded_at: now,
    }));
    const snapValues = await encodeAll(codec, contactsTopic, snaps, contactToAvro);
    await produceMessages(
      kafka,
      contactsTopic,
      snaps.map((s, i) => ({ key: s.id, value: snapValues[i] })),
    );

    const envelopes = distinctEnvelopes(mix, n, 'b');
    const enc = await timed(() => encodeAll(codec, raw, envelopes, (e) => notificationToAvro(rawNotificationOf(e))));
    const messages: Message[] = envelopes.map((e, i) => ({ key: entityKeyOf(e), value: enc.value[i] }));
    const bytes = enc.value.reduce((s, b) => s + b.length, 0);
    const prodMs = await produceMessages(kafka, raw, messages);
    line('produced raw notifications', `${fmtInt(n)} (${fmtMiB(bytes)}) in ${fmtMs(prodMs)} (encode ${fmtMs(enc.ms)})`);
    envelopes.length = 0;
    messages.length = 0;
    enc.value.length = 0;
    if (global.gc) global.gc();

    rss.start();
    runner = await createTransformerRunner(config, { intercomSource: NO_INTERCOM_API });
    const r = runner;
    const tStart = nowMs();
    let tFirst = 0;
    let firstAt = 0;
    const progress = setInterval(() => {
      if (tFirst === 0 && r.tally.count() > 0) {
        tFirst = nowMs();
        firstAt = r.tally.count();
      }
    }, 5);
    const started = runner.start();
    const committed = async (): Promise<number> => {
      const offs = await admin.fetchOffsets({ groupId: config.transformer.groupId, topics: [raw] });
      return offs.flatMap((t) => t.partitions).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
    };
    await started;
    const tReady = nowMs();
    const deadline = Date.now() + timeoutMs;
    let c = 0;
    while (Date.now() < deadline) {
      if (r.tally.count() >= n) {
        c = await committed();
        if (c >= n) break;
        await sleep(10);
      } else await sleep(20);
    }
    const tEnd = nowMs();
    clearInterval(progress);
    const peak = rss.stop();
    const processed = r.tally.count();
    if (c < n)
      note(
        `TIMED OUT after ${fmtMs(timeoutMs)}: ${fmtInt(processed)} processed, ${fmtInt(c)} committed of ${fmtInt(n)}`,
      );

    const steadyMs = tEnd - tFirst;
    const rate = ((n - firstAt) / steadyMs) * 1000;
    line('start() incl. topics, schemas, directory, group join', fmtMs(tReady - tStart));
    line('first notification processed after start()', fmtMs(tFirst - tStart));
    line(
      'broker throughput (first processed → all committed)',
      `${fmtRate(rate, 'notifications')}  (target ≥ ${fmtInt(BROKER_TARGET)}/s: ${rate >= BROKER_TARGET ? 'met' : 'MISSED'})`,
    );
    line('  wall time of that span', fmtMs(steadyMs));
    line('  incl. start-up (start() → all committed)', fmtRate((n / (tEnd - tStart)) * 1000, 'notifications'));
    const tally = r.tally.snapshot();
    line('records produced', [...tally.produced].map(([t, v]) => `${t.slice(prefix.length)} ${fmtInt(v)}`).join(', '));
    line('outcomes', [...tally.outcomes].map(([k, v]) => `${k} ${fmtInt(v)}`).join(', '));
    line('peak RSS (broker run)', fmtMiB(peak));
  } finally {
    rss.stop();
    await runner?.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    if (process.env.BENCH_KEEP_TOPICS !== '1') await deletePrefixedTopics(kafka, prefix).catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench:transform failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
