/**
 * What sealing raw bodies (docs/ERASURE.md) adds to ingest's CPU per webhook, without the
 * network: the same webhooks as bench:ingest (conversation.user.created of the emulator's
 * dataset, one contact each) and the Intercom-shaped fixtures, through the steps ingest takes
 * after the signature check:
 *
 *   clear:  scanEnvelope (one pass; it finds the subjects too) + Avro encode of the record
 *   sealed: the same + sealShared (a random record key, one XOR share per subject sealed under
 *           its key, the body under the record key: AES-256-GCM) + Avro encode of the sealed record
 *   open:   the transformer's openShared of a sealed body (the shares, then the body) + its decoding
 *
 * Keys are in memory (SubjectKeys with an in-memory topic): a subject's first sight also writes
 * its key to Kafka (acks all) once, a round trip not counted here. CPU per webhook is
 * process.cpuUsage over BENCH_N webhooks (default 20000), the best of BENCH_ROUNDS (default 5).
 *
 *   npm run bench:ingest:seal
 *
 * Prints figures as plain lines and asserts nothing.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Type } from 'avsc';
import type { Kafka, Producer } from 'kafkajs';
import { Secret } from '@iks/config';
import { ConnectionSealer } from '@iks/connections';
import { contactIdsIn, type RawNotification } from '@iks/domain';
import { openShared, sealShared, SubjectKeys } from '@iks/erasure';
import { GZIP_LEVEL, notificationToAvro, topic, type AvroCodec } from '@iks/kafka';
import { scanEnvelope } from '../apps/ingest/src/webhook/envelope-scan';
import { buildNotification, generateDataset } from '../tools/intercom-emulator/src';
import { envInt, heading, line, note } from './bench-util';

const N = envInt('BENCH_N', 20_000);
const ROUNDS = envInt('BENCH_ROUNDS', 5);
/** Records per produce request (ingest's batches under load are of this order). */
const BATCH = envInt('BENCH_BATCH', 20);

function schemaDir(): string {
  for (const up of ['..', '../..', '../../..']) {
    const dir = join(__dirname, up, 'schemas');
    try {
      readdirSync(dir);
      return dir;
    } catch {
      // not here
    }
  }
  throw new Error('schemas/ not found');
}

const notificationType = Type.forSchema(
  JSON.parse(readFileSync(join(schemaDir(), 'intercom-notification.avsc'), 'utf8')) as never,
);

function keysInMemory(): SubjectKeys {
  const producer = { send: async () => undefined } as unknown as Producer;
  const codec = { encodeAs: async (_t: unknown, r: unknown) => Buffer.from(JSON.stringify(r)) } as unknown as AvroCodec;
  const sealer = new ConnectionSealer([{ kid: 'b1', key: new Secret(randomBytes(32).toString('base64')) }]);
  return new SubjectKeys({} as Kafka, codec, producer, sealer, topic('subjectKeys', 'bench.'), 'bench');
}

function webhooks(): Buffer[] {
  const data = generateDataset({ seed: 5, contacts: 40, conversations: 40, tickets: 0 });
  return data.conversations.map((c, i) =>
    Buffer.from(
      JSON.stringify(
        buildNotification(
          'conversation.user.created',
          { ...c, id: String(1_000_000 + i) },
          {
            id: `notif_bench_${i}`,
            appId: data.appId,
            createdAt: c.updated_at,
          },
        ),
      ),
    ),
  );
}

function fixtures(): Buffer[] {
  const dir = join(schemaDir(), '..', 'libs', 'mapping', 'fixtures', 'notifications');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => Buffer.from(JSON.stringify(JSON.parse(readFileSync(join(dir, f), 'utf8')))));
}

function record(text: string): RawNotification {
  return {
    notification_id: 'notif_bench',
    topic: 'conversation.user.created',
    app_id: 'bench',
    created_at: 1_768_000_000,
    delivery_attempts: 1,
    first_sent_at: null,
    received_at: Date.now(),
    source: 'webhook',
    body: text,
  };
}

/** CPU µs per webhook of `step` over N webhooks (cycling through `bodies`), the best of ROUNDS. */
async function cpuPerWebhook(bodies: readonly Buffer[], step: (b: Buffer) => Promise<unknown> | unknown) {
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) await step(bodies[i % bodies.length]);
    const t = process.cpuUsage(t0);
    best = Math.min(best, (t.user + t.system) / N);
  }
  return best;
}

async function measure(label: string, bodies: readonly Buffer[]): Promise<void> {
  const keys = keysInMemory();
  const subjectsOf = (b: Buffer) => scanEnvelope(b)?.subjects ?? contactIdsIn(JSON.parse(b.toString('utf8')));
  // first sight of every subject: keys made once (their Kafka write is not what this measures)
  for (const b of bodies) {
    const ids = subjectsOf(b);
    if (ids.length > 0)
      await sealShared(
        keys,
        ids.map((contactId) => ({ connectionId: 'default', contactId })),
        b,
      );
  }
  const named = bodies.filter((b) => subjectsOf(b).length > 0).length;
  const avgBytes = bodies.reduce((s, b) => s + b.length, 0) / bodies.length;
  heading(
    `${label}: ${bodies.length} distinct bodies, ${named} naming a contact, ${Math.round(avgBytes)} bytes on average`,
  );

  const clear = async (b: Buffer) => {
    const text = b.toString('utf8');
    scanEnvelope(b);
    return notificationType.toBuffer(notificationToAvro(record(text)));
  };
  const sealed = async (b: Buffer) => {
    const text = b.toString('utf8');
    const ids = scanEnvelope(b)?.subjects ?? [];
    const r = record(text);
    if (ids.length === 0) return notificationType.toBuffer(notificationToAvro(r));
    // ingest seals the request's bytes as received (their UTF-8 decoding is the record's body)
    const body_sealed = await sealShared(
      keys,
      ids.map((contactId) => ({ connectionId: 'default', contactId })),
      b,
    );
    return notificationType.toBuffer(notificationToAvro({ ...r, body: '', body_sealed }));
  };
  // warm-up of both paths
  for (let i = 0; i < 2000; i++) {
    await clear(bodies[i % bodies.length]);
    await sealed(bodies[i % bodies.length]);
  }
  const c = await cpuPerWebhook(bodies, clear);
  const s = await cpuPerWebhook(bodies, sealed);
  const scanOnly = await cpuPerWebhook(bodies, (b) => scanEnvelope(b));
  const sealOnly = await cpuPerWebhook(bodies, (b) => {
    const ids = scanEnvelope(b)?.subjects ?? [];
    return ids.length === 0
      ? undefined
      : sealShared(
          keys,
          ids.map((contactId) => ({ connectionId: 'default', contactId })),
          b,
        );
  });
  // the transformer's side: opening a sealed body (keys known), and decoding it to the text it maps
  const sealedBodies: Buffer[] = [];
  for (const b of bodies) {
    const ids = scanEnvelope(b)?.subjects ?? [];
    if (ids.length > 0)
      sealedBodies.push(
        await sealShared(
          keys,
          ids.map((contactId) => ({ connectionId: 'default', contactId })),
          b,
        ),
      );
  }
  const open = await cpuPerWebhook(sealedBodies, async (sb) => (await openShared(keys, sb)).toString('utf8'));
  line('scan (envelope + subjects), CPU per webhook', `${scanOnly.toFixed(1)} µs`);
  line('scan + sealShared, CPU per webhook', `${sealOnly.toFixed(1)} µs`);
  line('clear: scan + Avro encode, CPU per webhook', `${c.toFixed(1)} µs`);
  line('sealed: scan + seal + Avro encode, CPU per webhook', `${s.toFixed(1)} µs`);
  line('added by sealing, CPU per webhook', `${(s - c).toFixed(1)} µs`);
  // the produce request: main GZIPs the raw topic's batches (level GZIP_LEVEL); sealed bodies do not
  // compress, so the writer sends them uncompressed (the GZIP would cost without saving a byte)
  const batched = (step: (b: Buffer) => Promise<Buffer>, gzip: boolean) => {
    let batch: Buffer[] = [];
    let bytes = 0;
    let wire = 0;
    let n = 0;
    const run = async (b: Buffer) => {
      const v = await step(b);
      batch.push(v);
      bytes += v.length;
      n++;
      if (batch.length === BATCH) {
        const request = Buffer.concat(batch);
        wire += gzip ? gzipSync(request, { level: GZIP_LEVEL }).length : request.length;
        batch = [];
      }
    };
    return { run, wirePerRecord: () => wire / Math.max(1, n - batch.length), bytesPerRecord: () => bytes / n };
  };
  const clearGz = batched(clear, true);
  const sealedGz = batched(sealed, true);
  const sealedRaw = batched(sealed, false);
  const cg = await cpuPerWebhook(bodies, clearGz.run);
  const sg = await cpuPerWebhook(bodies, sealedGz.run);
  const sr = await cpuPerWebhook(bodies, sealedRaw.run);
  line(
    `clear + GZIP batches of ${BATCH} (main)`,
    `${cg.toFixed(1)} µs, ${clearGz.wirePerRecord().toFixed(0)} B per record to the broker`,
  );
  line(
    `sealed + GZIP batches of ${BATCH}`,
    `${sg.toFixed(1)} µs, ${sealedGz.wirePerRecord().toFixed(0)} B per record to the broker`,
  );
  line(
    `sealed, uncompressed (this writer)`,
    `${sr.toFixed(1)} µs, ${sealedRaw.wirePerRecord().toFixed(0)} B per record to the broker`,
  );
  line('added per webhook, as written', `${(sr - cg).toFixed(1)} µs`);
  line('transformer: openShared + UTF-8 decode, CPU per body', `${open.toFixed(1)} µs`);
}

async function main(): Promise<void> {
  process.stdout.write(`ingest seal bench: N=${N} per round, best of ${ROUNDS} rounds, node ${process.version}\n`);
  await measure('bench:ingest webhooks (conversation.user.created)', webhooks());
  await measure('Intercom-shaped fixtures (every topic)', fixtures());
  note(
    'a subject seen for the first time also writes its key (acks all) before its record: one Kafka round trip per person, once',
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
