import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import { CompressionTypes, type Admin, type Kafka, type Producer } from 'kafkajs';
import type { Config } from '@iks/config';
import { connectionOf, contactIdsInText, type RawNotification } from '@iks/domain';
import { sealShared, type SubjectKeys } from '@iks/erasure';
import { notificationToAvro, outageToAvro, prepareStage, topicName, type AvroCodec } from '@iks/kafka';
import { BatchingProducer } from './batching-producer';
import { OutageRecorder } from './outage-recorder';
import { PROBE_CACHE_MS, PROBE_TIMEOUT_MS, ReadinessProbe } from './readiness-probe';

export class KafkaUnavailableError extends Error {
  readonly retriable = true;
  constructor(message: string) {
    super(message);
    this.name = 'KafkaUnavailableError';
  }
}

/** The notification's record is larger than the raw topic accepts: no retry will store it (413). */
export class RecordTooLargeError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'RecordTooLargeError';
  }
}

/** The notification could not be encoded as the topic's Avro record (a validation gap, not Kafka). */
export class NotificationEncodeError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'NotificationEncodeError';
  }
}

/**
 * A v2 record batch has a 61-byte header and each record a few varints and attributes (KIP-98
 * message format); 128 bytes covers one record alone in its batch with room to spare.
 */
const RECORD_BATCH_OVERHEAD_BYTES = 128;

export interface NotificationWriterOptions {
  /** Report ingest's 503 windows on pipeline.outages.v1 (default: in the ingest app only). */
  readonly recordOutages?: boolean;
  /**
   * Bounds the bodies waiting for Kafka's ack (a slow or absent broker must not grow the heap
   * without end): past it a webhook gets 503 at once and Intercom retries.
   */
  readonly maxInFlightBytes?: number;
}

/** What a writer writes with: the context's Kafka client, producer and codec (KafkaModule), and the people's keys (ErasureModule). */
export interface NotificationWriterDeps {
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly codec: AvroCodec;
  /** Seals each body for the people it names (docs/ERASURE.md); started and stopped with the writer. */
  readonly subjectKeys: SubjectKeys;
}

/** Writes raw notifications to intercom.notifications.v1 with acks=all; answers only after the ack. */
export class NotificationWriter {
  private readonly logger = new Logger(NotificationWriter.name);
  private readonly maxInFlightBytes: number;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private batching: BatchingProducer;
  private readonly codec: AvroCodec;
  private readonly keys: SubjectKeys;
  private readonly topic: string;
  /** Signed webhooks of workspaces no connection claims (docs/CONNECTIONS.md). */
  private readonly unclaimedTopic: string;
  private connected = false;
  private inFlightBytes = 0;
  /** The raw topic's max.message.bytes as the broker reports it (it may predate this version). */
  private maxRecordBytes: number;
  private probeAdmin: Admin | null = null;
  /** When Kafka last acknowledged a write: proof enough that the broker answers now. */
  private lastAckAt = 0;
  private readonly brokerProbe = new ReadinessProbe(() =>
    this.probeAdmin
      ? withTimeout(this.probeAdmin.fetchTopicMetadata({ topics: [this.topic] }), PROBE_TIMEOUT_MS).then(() => true)
      : Promise.resolve(false),
  );
  private readonly registryProbe = new ReadinessProbe(() => this.askRegistry());
  /** Ingest's 503 windows, for the reconciler (pipeline.outages.v1); null for the CLI's writers. */
  readonly outages: OutageRecorder | null;

  constructor(
    private readonly config: Config,
    deps: NotificationWriterDeps,
    { recordOutages = config.app === 'ingest', maxInFlightBytes = 32 * 1024 * 1024 }: NotificationWriterOptions = {},
  ) {
    this.kafka = deps.kafka;
    this.producer = deps.producer;
    this.maxInFlightBytes = maxInFlightBytes;
    this.producer.on('producer.connect', () => (this.connected = true));
    this.producer.on('producer.disconnect', () => (this.connected = false));
    this.maxRecordBytes = config.kafka.topicMaxMessageBytes;
    this.batching = this.batchingFor(this.maxRecordBytes);
    this.codec = deps.codec;
    this.keys = deps.subjectKeys;
    this.topic = topicName('notifications', config.kafka.topicPrefix);
    this.unclaimedTopic = topicName('notificationsUnclaimed', config.kafka.topicPrefix);
    const outagesTopic = topicName('outages', config.kafka.topicPrefix);
    this.outages = recordOutages
      ? new OutageRecorder(async (key, outage) => {
          const value = await this.codec.encode(outagesTopic, outageToAvro(outage));
          await this.producer.send({ topic: outagesTopic, acks: -1, messages: [{ key, value }] });
        }, `ingest@${hostname()}`)
      : null;
  }

  async start(): Promise<void> {
    await prepareStage(this.kafka, this.config.kafka, this.codec, this.producer);
    // the people's keys known so far (a subject seen before keeps its key), then followed
    await this.keys.start();
    // A short-retry admin for readiness: it must answer "unreachable" quickly, not retry for minutes.
    this.probeAdmin = this.kafka.admin({ retry: { retries: 0 } });
    await this.probeAdmin.connect();
    await this.readTopicLimit();
  }

  /** The topic may have been created before max.message.bytes was set: size records by what it really accepts. */
  private async readTopicLimit(): Promise<void> {
    try {
      const res = await this.probeAdmin!.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2 /* ConfigResourceTypes.TOPIC */, name: this.topic, configNames: ['max.message.bytes'] }],
      });
      const value = Number(
        res.resources[0]?.configEntries.find((c) => c.configName === 'max.message.bytes')?.configValue,
      );
      if (Number.isInteger(value) && value > 0) this.maxRecordBytes = value;
    } catch (e) {
      this.logger.warn(
        `could not read max.message.bytes of ${this.topic} (assuming ${this.maxRecordBytes}): ${(e as Error).message}`,
      );
    }
    this.batching = this.batchingFor(this.maxRecordBytes);
    const largest = this.config.ingest.bodyLimitBytes + RECORD_BATCH_OVERHEAD_BYTES;
    if (largest > this.maxRecordBytes) {
      this.logger.warn(
        `${this.topic} accepts records up to ${this.maxRecordBytes} bytes (max.message.bytes), less than INGEST_BODY_LIMIT_BYTES=` +
          `${this.config.ingest.bodyLimitBytes} in its record: larger webhooks get 413. Raise the topic's max.message.bytes or lower the limit.`,
      );
    }
  }

  /**
   * Raw records are written uncompressed: their bodies are sealed (AES-GCM output does not
   * compress), and GZIP over ciphertext costs ~50 µs per 3.6 KB record for nothing (against
   * ~12 µs on the clear JSON it compressed ~9×): docs/ERASURE.md, Cost.
   */
  private batchingFor(maxRecordBytes: number): BatchingProducer {
    return new BatchingProducer(this.producer, {
      maxBatchBytes: Math.max(1, Math.min(1024 * 1024, maxRecordBytes - RECORD_BATCH_OVERHEAD_BYTES)),
      compression: CompressionTypes.None,
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /**
   * Whether the broker answers now: a write acknowledged in the last PROBE_CACHE_MS, else a
   * metadata request for the raw topic (ReadinessProbe). (kafkajs' producer stays "connected"
   * while the broker is gone; only the next send would find out.)
   */
  brokerReachable(): Promise<boolean> {
    if (!this.connected || !this.probeAdmin) return Promise.resolve(false);
    if (Date.now() - this.lastAckAt < PROBE_CACHE_MS) return Promise.resolve(true);
    return this.brokerProbe.up();
  }

  /** Whether the schema registry answers (ReadinessProbe: at most every PROBE_CACHE_MS, two failures in a row). */
  registryReachable(): Promise<boolean> {
    return this.registryProbe.up();
  }

  /** GET /subjects with the configured credentials (never logged). */
  private async askRegistry(): Promise<boolean> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const auth = this.config.kafka.schemaRegistryAuth;
    if (auth)
      headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password.reveal()}`).toString('base64')}`;
    try {
      const res = await fetch(`${this.config.kafka.schemaRegistryUrl}/subjects`, {
        headers,
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  /**
   * Resolves when Kafka acknowledged the write. Rejects with KafkaUnavailableError (retry later:
   * 503) after the ack timeout, RecordTooLargeError (never storable: 413) or
   * NotificationEncodeError (500).
   *
   * The body is written sealed (`body_sealed`, docs/ERASURE.md) for the contacts it names:
   * `contactIds` when the caller found them already (ingest's envelope scan), else found here
   * (libs/domain contactIdsIn over the parsed body: the backfill's and reconcile's records). A
   * body that names no contact is written clear. A subject seen for the first time gets its key
   * written (acks all) before the record, within the same `timeoutMs`. `bodyBytes`: the bytes the
   * body was decoded from (ingest's request body), sealed as they are (no second UTF-8 encoding;
   * opened and decoded they are `body` again).
   */
  write(
    notification: RawNotification,
    key: string,
    timeoutMs = this.config.ingest.ackTimeoutMs,
    contactIds?: readonly string[],
    bodyBytes?: Buffer,
  ): Promise<void> {
    return this.writeTo(this.topic, notification, key, timeoutMs, contactIds, bodyBytes);
  }

  /**
   * As `write`, to intercom.notifications.unclaimed.v1: a signed webhook of a workspace no
   * connection claims, keyed by its app_id, kept until `cli connections claim` copies it.
   */
  writeUnclaimed(
    notification: RawNotification,
    key: string,
    timeoutMs = this.config.ingest.ackTimeoutMs,
  ): Promise<void> {
    // no connection claims it yet: sealed for its contacts under the workspace (unclaimedSubject), 30 days (docs/ERASURE.md)
    return this.writeTo(
      this.unclaimedTopic,
      notification,
      key,
      timeoutMs,
      undefined,
      undefined,
      `unclaimed:${notification.app_id}`,
    );
  }

  private writeTo(
    topic: string,
    notification: RawNotification,
    key: string,
    timeoutMs: number,
    contactIds: readonly string[] | undefined,
    bodyBytes?: Buffer,
    sealAs?: string,
  ): Promise<void> {
    return this.writeOnce(topic, notification, key, timeoutMs, contactIds, bodyBytes, sealAs).then(
      () => this.outages?.succeeded(),
      (e: unknown) => {
        if (e instanceof KafkaUnavailableError) this.outages?.failed();
        throw e;
      },
    );
  }

  /**
   * Not async, and neither are write() and writeTo(): once the record is encoded only its Avro
   * bytes wait for Kafka's ack, not the notification (an async frame keeps its parameters until
   * it ends; the body string would survive every scavenge until the ack).
   */
  private writeOnce(
    topic: string,
    notification: RawNotification,
    key: string,
    timeoutMs: number,
    contactIds: readonly string[] | undefined,
    bodyBytes: Buffer | undefined,
    sealAs: string | undefined,
  ): Promise<void> {
    const bytes = notification.body.length;
    if (this.inFlightBytes + bytes > this.maxInFlightBytes) {
      return Promise.reject(
        new KafkaUnavailableError(
          `${Math.round(this.inFlightBytes / 1024)} KiB of notifications already wait for Kafka's ack`,
        ),
      );
    }
    const started = Date.now();
    const ids = contactIds ?? contactIdsInText(notification.body);
    return this.sealed(notification, ids, timeoutMs, bodyBytes, sealAs).then((record) => {
      let encoded: Promise<Buffer>;
      try {
        encoded = this.codec.encode(topic, notificationToAvro(record));
      } catch (e) {
        encoded = Promise.reject(e);
      }
      return encoded.then(
        (value) => this.sendEncoded(topic, value, key, bytes, Math.max(1, timeoutMs - (Date.now() - started))),
        (e: unknown) => {
          throw new NotificationEncodeError(`cannot encode the notification as Avro: ${(e as Error).message}`);
        },
      );
    });
  }

  /**
   * The record with its body sealed for `contactIds` of its connection (and `body` emptied: the
   * clear text is let go here), or as it is when the body names no one. The keys of subjects seen
   * for the first time are written before this resolves: Kafka away is a 503 as for the record.
   */
  private sealed(
    n: RawNotification,
    contactIds: readonly string[],
    timeoutMs: number,
    bodyBytes: Buffer | undefined,
    sealAs: string | undefined,
  ): Promise<RawNotification> {
    if (contactIds.length === 0) return Promise.resolve(n);
    const connectionId = sealAs ?? connectionOf(n);
    const subjects = contactIds.map((contactId) => ({ connectionId, contactId }));
    return withTimeout(sealShared(this.keys, subjects, bodyBytes ?? Buffer.from(n.body, 'utf8')), timeoutMs).then(
      (body_sealed): RawNotification => ({ ...n, body: '', body_sealed }),
      (e: unknown) => {
        throw new KafkaUnavailableError(
          `cannot seal the body for its ${subjects.length} subject(s) (a subject key is written first): ${(e as Error).message}`,
        );
      },
    );
  }

  private async sendEncoded(
    topic: string,
    value: Buffer,
    key: string,
    bytes: number,
    timeoutMs: number,
  ): Promise<void> {
    const recordBytes = value.length + Buffer.byteLength(key) + RECORD_BATCH_OVERHEAD_BYTES;
    if (recordBytes > this.maxRecordBytes) {
      throw new RecordTooLargeError(
        `its record is ${recordBytes} bytes; ${topic} accepts ${this.maxRecordBytes} (max.message.bytes)`,
      );
    }
    this.inFlightBytes += bytes;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new KafkaUnavailableError(`Kafka did not acknowledge within ${timeoutMs} ms`)),
          timeoutMs,
        );
        this.batching.send(topic, { key, value }).then(() => {
          this.lastAckAt = Date.now();
          resolve();
        }, reject);
      });
    } catch (e) {
      if (e instanceof KafkaUnavailableError) throw e;
      if (isTooLarge(e))
        throw new RecordTooLargeError(`the broker refused the record as too large: ${(e as Error).message}`);
      throw new KafkaUnavailableError(`Kafka write failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      this.inFlightBytes -= bytes;
    }
  }

  async stop(): Promise<void> {
    await Promise.race([this.batching.drain(), new Promise((r) => setTimeout(r, 5000))]);
    await Promise.race([this.outages?.settled(), new Promise((r) => setTimeout(r, 5000))]);
    await this.keys.stop();
    await this.producer.disconnect();
    await this.probeAdmin?.disconnect().catch(() => undefined);
    this.logger.log('producer flushed and disconnected');
  }
}

/** Kafka protocol errors 10 MESSAGE_TOO_LARGE and 18 RECORD_LIST_TOO_LARGE, however kafkajs wraps them. */
function isTooLarge(e: unknown): boolean {
  for (
    let err = e as { type?: string; cause?: unknown; originalError?: unknown } | undefined, depth = 0;
    err && depth < 5;
    depth++
  ) {
    if (err.type === 'MESSAGE_TOO_LARGE' || err.type === 'RECORD_LIST_TOO_LARGE') return true;
    err = (err.cause ?? err.originalError) as typeof err;
  }
  return false;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
