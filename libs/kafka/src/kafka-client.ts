import { Logger } from '@nestjs/common';
import { gzipSync, unzipSync } from 'node:zlib';
import {
  CompressionCodecs,
  CompressionTypes,
  Kafka,
  logLevel,
  type Admin,
  type LogEntry,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { KafkaConfig } from '@iks/config';
import { allTopics } from './topics';
import { decodeLz4Frames, encodeLz4Frame } from './lz4-frame';
import { JavaCompatiblePartitioner } from './partitioner';
// kafkajs' idle request-queue timer loop, fixed before any client exists (see the module)
// (loaded again 2026-12-07: the sink's crash/restart cases that hung with it on 2026-12-06 pass with
// it, alone and in the whole file; that hang's cause was not found, a suspect is the runners'
// contexts left open after stop, which close since)
import './request-queue-idle-fix';

/** kafkajs logs bridged into Nest's logger (STYLE habit 7); no secret is in these entries. */
function logCreator() {
  const logger = new Logger('kafkajs');
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const text = `${namespace}: ${message}${Object.keys(extra).length > 2 ? ` ${JSON.stringify({ ...extra, timestamp: undefined, logger: undefined })}` : ''}`;
      // kafkajs logs retriable broker answers (coordinator loading, leader moved) as errors;
      // failures that matter reach the caller as thrown errors and are logged there.
      if (level <= logLevel.WARN) logger.warn(text);
      else if (level === logLevel.INFO) logger.debug(text);
      else logger.verbose(text);
    };
}

export function createKafka(config: KafkaConfig, clientId = config.clientId): Kafka {
  return new Kafka({
    clientId,
    brokers: [...config.brokers],
    ssl: config.ssl,
    sasl: config.sasl
      ? ({
          mechanism: config.sasl.mechanism,
          username: config.sasl.username,
          password: config.sasl.password.reveal(),
        } as SASLOptions)
      : undefined,
    logLevel: logLevel.WARN,
    logCreator: logCreator(),
    // short backoff cap: after a broker restart the stages resume within seconds
    retry: { initialRetryTime: 200, maxRetryTime: 5000, retries: 10 },
  });
}

/**
 * The codecs our producers write (createProducer, KAFKA_COMPRESSION), GZIP by default: GZIP level 3
 * below, or LZ4 frames (`./lz4-frame`, Kafka's codec 3, KIP-57, registered below since kafkajs has
 * no LZ4 of its own). zlib's sync calls cost ~60 µs of fixed overhead each and produce batches are
 * small (a few records per partition per request), so GZIP is 7-11 % of each app's CPU; LZ4 writes
 * a 1-record batch for 13 µs instead of 63 and reads it in a fifth of gunzip's time. Six alternated
 * e2e runs a side (docs/BENCHMARKS.md "Issue #20, round 3"): LZ4 0.91-0.93x the apps' CPU per
 * event, but 1.33-1.37x the broker's bytes and p99 at 1,000 webhooks/s 1,592 against 1,306 ms (not
 * explained), so GZIP stays the default. Every reader reads both, whichever a topic holds.
 */
export const PRODUCER_COMPRESSION = {
  gzip: CompressionTypes.GZIP,
  lz4: CompressionTypes.LZ4,
} as const satisfies Record<KafkaConfig['compression'], CompressionTypes>;

/**
 * The codec of the records whose bytes are mostly sealed (docs/ERASURE.md): what every stage
 * produces from its slices (events, profiles, deletions, contact snapshots) and the outcomes,
 * whatever KAFKA_COMPRESSION says. AES-GCM output does not compress, so GZIP spends its CPU on it
 * for nothing; LZ4 still finds the clear parts repeated across a batch's records (topic, metric,
 * connection ids). e2e bench, 40,000 webhooks, two alternated rounds (docs/BENCHMARKS.md "Issue
 * #20, round 5"): the broker's bytes for events 597-600 against 576-579 B/event with GZIP,
 * outcomes 568-576 against 547-553; uncompressed they were 791 and 825.
 */
export const SEALED_RECORDS_COMPRESSION = CompressionTypes.LZ4;

/**
 * zlib level of the GZIP batches. kafkajs's own GZIP codec uses zlib's default (6); level 3 compresses webhook JSON
 * about 10-15× at under half its CPU. Any Kafka client reads the batches, whatever the level.
 */
export const GZIP_LEVEL = 3;
/**
 * Synchronous on purpose: zlib's async calls go through the libuv thread pool, which cost
 * 150-300 µs of CPU per call (thread hand-off) against 26-50 µs for the whole compression of a
 * 3-35 KB request done in place; a produce request is at most 1 MiB (sendInBoundedRequests).
 * Reading GZIP stays: the topics hold GZIP batches written before 2026-12-07.
 */
const levelledGzip = {
  compress: async (encoder: { buffer: Buffer }) => gzipSync(encoder.buffer, { level: GZIP_LEVEL }),
  decompress: async (buffer: Buffer) => unzipSync(buffer),
};
/**
 * LZ4 in place too (lz4-napi's sync calls on the main thread, 1-15 µs per batch): frames Kafka's
 * broker accepts when written, any LZ4 frame when read (see `./lz4-frame`).
 */
const lz4Frames = {
  compress: async (encoder: { buffer: Buffer }) => encodeLz4Frame(encoder.buffer),
  decompress: async (buffer: Buffer) => decodeLz4Frames(buffer),
};
// kafkajs looks its codecs up in this table for every batch it writes or reads (the same module
// everywhere in the process; every Kafka client of ours comes from createKafka, in this module).
CompressionCodecs[CompressionTypes.GZIP] = () => levelledGzip;
CompressionCodecs[CompressionTypes.LZ4] = () => lz4Frames;

/**
 * Every produce request of a producer from createProducer is compressed with
 * KAFKA_COMPRESSION's codec unless the send says otherwise: compressed, the broker writes about a
 * tenth of the bytes of the notifications (3.4 KB of JSON each), a fifth of the events', an
 * eighth of the outcomes' (e2e bench, 2026-12-06), for a few µs per record in the producer.
 */
function compressing(producer: Producer, compression: CompressionTypes): Producer {
  const send = producer.send.bind(producer);
  const sendBatch = producer.sendBatch.bind(producer);
  producer.send = (record) => send({ compression, ...record });
  producer.sendBatch = (batch) => sendBatch({ compression, ...batch });
  return producer;
}

/** Producer settings every stage uses: idempotent, acks=all (set per send), one in flight for order, compressed. */
export function createProducer(kafka: Kafka, compression: KafkaConfig['compression'] = 'gzip'): Producer {
  return compressing(
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // kafkajs' DefaultPartitioner's partitions, without its 64-bit Long arithmetic (partitioner.ts)
      createPartitioner: JavaCompatiblePartitioner,
      // kafkajs warns when an idempotent producer's retries are limited; the callers bound
      // the wait themselves (ingest answers 503 after INGEST_ACK_TIMEOUT_MS).
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 2000 },
    }),
    PRODUCER_COMPRESSION[compression],
  );
}

/**
 * Errors of a createTopics whose topics the broker does not host yet, or whose leaders are being
 * elected: a broker busy creating other runs' topics answers so for a moment after the create
 * (the wait for leaders then fails). Asked again, it hosts them.
 */
const TOPICS_NOT_READY = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION']);
const ENSURE_TOPICS_ATTEMPTS = 20;
const ENSURE_TOPICS_PAUSE_MS = 500;

function topicsNotReady(e: unknown): boolean {
  const type = (e as { type?: unknown }).type;
  return (
    (typeof type === 'string' && TOPICS_NOT_READY.has(type)) ||
    /does not host this topic-partition|no leader/i.test(String((e as Error)?.message))
  );
}

/**
 * Create the project's topics if missing (compacted where the registry says so) and wait for
 * their leaders; returns the names created. Every topic gets an explicit max.message.bytes
 * (KAFKA_TOPIC_MAX_MESSAGE_BYTES, 2 MiB by default): the broker's default of 1,048,588 bytes is
 * smaller than a 1 MiB webhook body in its Avro record. A broker that does not host a new topic
 * yet is asked again (up to 20 times, 500 ms apart); any other error is thrown at once.
 */
export async function ensureTopics(
  admin: Admin,
  config: Pick<KafkaConfig, 'topicPrefix' | 'partitions' | 'replicationFactor'> &
    Partial<Pick<KafkaConfig, 'topicMaxMessageBytes'>>,
  pauseMs = ENSURE_TOPICS_PAUSE_MS,
): Promise<string[]> {
  const created = new Set<string>();
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = new Set(await admin.listTopics());
      const missing = allTopics(config.topicPrefix).filter((t) => !existing.has(t.name));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => {
            created.add(t.name);
            return {
              topic: t.name,
              numPartitions: config.partitions,
              replicationFactor: config.replicationFactor,
              configEntries: [
                ...(t.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
                ...(t.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(t.retentionMs) }]),
                ...Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
                ...(config.topicMaxMessageBytes
                  ? [{ name: 'max.message.bytes', value: String(config.topicMaxMessageBytes) }]
                  : []),
              ],
            };
          }),
        });
      }
      return [...created];
    } catch (e) {
      if (attempt >= ENSURE_TOPICS_ATTEMPTS || !topicsNotReady(e)) throw e;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}

/** Start-up every stage shares: topics exist, schemas registered (ids cached in `codec`), producer connected. */
export async function prepareStage(
  kafka: Kafka,
  config: KafkaConfig,
  codec: { registerAll(): Promise<unknown> },
  producer?: Producer,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, config);
  } finally {
    await admin.disconnect();
  }
  await codec.registerAll();
  await producer?.connect();
}

/**
 * Consumer group timing for every stage. After a broker restart a consumer may rejoin under a
 * new member id, and the group waits for the old one until its session times out: 20 s keeps
 * that pause short, with a heartbeat every 3 s (stages also heartbeat during long deliveries).
 * An idle fetch returns after 1 s, so stopping a consumer does not wait kafkajs' default 5 s.
 */
export const GROUP_TIMING = {
  sessionTimeout: 20_000,
  heartbeatInterval: 3000,
  rebalanceTimeout: 60_000,
  maxWaitTimeInMs: 1000,
} as const;
