/**
 * Where a phase's webhook → Klaviyo latency goes, stage by stage, from timestamps the pipeline
 * already leaves behind (nothing in the apps is instrumented for it):
 * - the webhook's send time (the load generator);
 * - the raw record's Kafka timestamp (CreateTime: kafkajs stamps a record when ingest's
 *   producer sends it) and its `received_at` (ingest's clock when the request came in);
 * - the event record's Kafka timestamp (when the transformer's producer sent it), its
 *   `source_notification_id` linking it to the raw record and its `unique_id`;
 * - the Klaviyo emulator's `receivedAt` of the stored event with that unique_id, and the times
 *   of every bulk request, so that for each event the bench can count the bulk requests that
 *   left between its event record being written and the request that carried it: requests the
 *   event missed while the sink had not fetched it yet, or had it queued behind a full request.
 * All clocks are this machine's one clock.
 */
import type { Kafka } from 'kafkajs';
import type { AvroCodec } from '@iks/kafka';
import { fmtInt, note, percentiles } from '../bench-util';

export interface TopicStamp {
  /** Kafka CreateTime (ms). */
  readonly ts: number;
  readonly partition: number;
  readonly value: Record<string, unknown>;
}

/** Every record of `topic` written at or after `sinceMs`, decoded (its Kafka timestamp, partition and fields). */
export async function readTopicSince(
  kafka: Kafka,
  codec: AvroCodec,
  topic: string,
  sinceMs: number,
): Promise<TopicStamp[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(ends.map((o) => [o.partition, BigInt(o.high)]));
  const left = new Set(ends.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => o.partition));
  const out: TopicStamp[] = [];
  if (left.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `bench-breakdown-${Date.now()}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const raw: Array<{ ts: number; partition: number; buf: Buffer }> = [];
  await new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const ts = Number(m.timestamp);
            if (ts >= sinceMs && m.value) raw.push({ ts, partition: batch.partition, buf: m.value });
            if (BigInt(m.offset) + 1n >= want.get(batch.partition)!) left.delete(batch.partition);
          }
          if (left.size === 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  for (const r of raw)
    out.push({ ts: r.ts, partition: r.partition, value: (await codec.decode(r.buf)) as Record<string, unknown> });
  return out;
}

export interface DeliveredEvent {
  readonly unique_id: string;
  readonly receivedAt: string;
}

export interface BulkRequestAt {
  readonly at: number;
  readonly events: number;
}

/**
 * Prints, for the events delivered in a phase: per stage the p50/p90/p99 of its share of the
 * latency, and how many bulk requests left while each event waited in the sink.
 */
export function printBreakdown(opts: {
  readonly sentAt: ReadonlyMap<string, number>;
  readonly raw: readonly TopicStamp[];
  readonly events: readonly TopicStamp[];
  readonly delivered: readonly DeliveredEvent[];
  readonly requests: readonly BulkRequestAt[];
}): Record<string, number> {
  const rawById = new Map<string, TopicStamp>();
  for (const r of opts.raw) rawById.set(String(r.value.notification_id), r);
  const evByUid = new Map<string, TopicStamp>();
  for (const e of opts.events) if (!evByUid.has(String(e.value.unique_id))) evByUid.set(String(e.value.unique_id), e);
  const reqTimes = opts.requests.map((r) => r.at).sort((a, b) => a - b);
  const stages: Record<string, number[]> = {
    'webhook → ingest received': [],
    'received → raw record written (ingest)': [],
    'raw written → event written (transformer)': [],
    'event written → Klaviyo (sink)': [],
    'total (this webhook)': [],
  };
  const missed: number[] = [];
  for (const d of opts.delivered) {
    const e = evByUid.get(d.unique_id);
    if (!e) continue;
    const r = rawById.get(String(e.value.source_notification_id));
    if (!r) continue;
    const sent = opts.sentAt.get(String(r.value.notification_id));
    if (sent === undefined) continue;
    const recv = Date.parse(d.receivedAt);
    const ingestAt = millis(r.value.received_at);
    stages['webhook → ingest received'].push(ingestAt - sent);
    stages['received → raw record written (ingest)'].push(r.ts - ingestAt);
    stages['raw written → event written (transformer)'].push(e.ts - r.ts);
    stages['event written → Klaviyo (sink)'].push(recv - e.ts);
    stages['total (this webhook)'].push(recv - sent);
    // bulk requests that reached the emulator after the event was written and before its own
    missed.push(countBetween(reqTimes, e.ts, recv));
  }
  const figures: Record<string, number> = {};
  note(`latency by stage (${fmtInt(stages['total (this webhook)'].length)} events matched to their webhook):`);
  for (const [stage, xs] of Object.entries(stages)) {
    if (!xs.length) continue;
    const q = percentiles(xs, [50, 90, 99]);
    note(
      `  ${stage.padEnd(44)} p50 ${fmtInt(q.p50).padStart(6)} ms, p90 ${fmtInt(q.p90).padStart(6)} ms, p99 ${fmtInt(q.p99).padStart(6)} ms, mean ${fmtInt(xs.reduce((a, b) => a + b, 0) / xs.length).padStart(6)} ms`,
    );
    const key = stage
      .split(' (')[0]
      .replace(/[^a-z]+/gi, '_')
      .replace(/^_|_$/g, '')
      .toLowerCase();
    figures[`${key}_p50_ms`] = q.p50;
    figures[`${key}_p99_ms`] = q.p99;
  }
  if (missed.length) {
    const hist = new Map<number, number>();
    for (const m of missed) hist.set(Math.min(m, 5), (hist.get(Math.min(m, 5)) ?? 0) + 1);
    note(
      `  bulk requests that left while the event waited in the sink: ${[...hist.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([k, n]) => `${k === 5 ? '≥5' : k}: ${((n / missed.length) * 100).toFixed(1)} %`)
        .join(', ')}`,
    );
  }
  const gaps = reqTimes.slice(1).map((t, i) => t - reqTimes[i]);
  if (gaps.length) {
    const q = percentiles(gaps, [10, 50, 90, 99]);
    note(
      `  gaps between bulk requests: p10 ${fmtInt(q.p10)} ms, p50 ${fmtInt(q.p50)} ms, p90 ${fmtInt(q.p90)} ms, p99 ${fmtInt(q.p99)} ms (${gaps.length + 1} requests)`,
    );
  }
  return figures;
}

/** A timestamp-millis field as Avro decodes it (a Date with logical types, else a number). */
function millis(v: unknown): number {
  return v instanceof Date ? v.getTime() : Number(v);
}

/** How many of the ascending `times` fall in (from, to). */
function countBetween(times: readonly number[], from: number, to: number): number {
  let n = 0;
  for (const t of times) if (t > from && t < to) n++;
  return n;
}
