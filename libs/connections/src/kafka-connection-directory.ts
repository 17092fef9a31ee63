import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KafkaConfig, Secret } from '@iks/config';
import { ensureTopics, followTopic, RecordDecodeError, type AvroCodec, type ThrowAwayConsumer } from '@iks/kafka';
import type { Connection } from './connection.types';
import { ConnectionView } from './connection-view';
import type { ConnectionSealer } from './sealing';

export interface KafkaConnectionDirectoryOptions {
  readonly kafka: Kafka;
  readonly kafkaConfig: KafkaConfig;
  readonly codec: AvroCodec;
  /** The prefixed name of pipeline.connections.v1. */
  readonly topic: string;
  /** The throw-away group's prefix (a group per process, deleted on stop). */
  readonly groupPrefix: string;
  /** Null without CONNECTION_SECRET_KEYS: the topic is not followed, only the default connection exists. */
  readonly sealer: ConnectionSealer | null;
  /** The default connection (CONNECTIONS_DEFAULT), or null. */
  readonly defaultConnection: Connection | null;
  /** Every INTERCOM_CLIENT_SECRET of the environment (rotation lists several). */
  readonly environmentClientSecrets?: readonly Secret[];
  /** The app's metrics registry: iks_connections{state}, iks_connections_records_total{outcome}. */
  readonly registry?: Registry;
}

/**
 * The ConnectionDirectory every app reads (docs/CONNECTIONS.md): follows pipeline.connections.v1
 * from the beginning with a throw-away group (followTopic) into a ConnectionView. start()
 * resolves, and ready() with it, once the view has caught up with the end offsets seen at start.
 * A record that cannot be decoded or unsealed is logged (why, never a secret), counted
 * (stats.unusable) and its connection reported by unusable(); the directory goes on.
 */
export class KafkaConnectionDirectory extends ConnectionView implements OnApplicationShutdown {
  private readonly logger = new Logger(KafkaConnectionDirectory.name);
  private follower?: ThrowAwayConsumer;
  private starting?: Promise<void>;
  private caughtUp = false;
  private readonly records?: Counter<'outcome'>;

  constructor(private readonly options: KafkaConnectionDirectoryOptions) {
    super(options.sealer, {
      connection: options.defaultConnection,
      clientSecrets: options.environmentClientSecrets,
    });
    if (options.registry) {
      this.records = new Counter({
        name: 'iks_connections_records_total',
        help: 'records of pipeline.connections.v1 read, by what they did: applied, stale (a lower revision, ignored), unusable (not decoded or not unsealed), tombstone',
        labelNames: ['outcome'],
        registers: [options.registry],
      });
      const directory = this as ConnectionView;
      new Gauge({
        name: 'iks_connections',
        help: 'connections: in_use (not removed, the default one included), unusable (their last record cannot be decoded or unsealed)',
        labelNames: ['state'],
        registers: [options.registry],
        collect() {
          this.set({ state: 'in_use' }, directory.all().length);
          this.set({ state: 'unusable' }, directory.unusable().length);
        },
      });
    }
  }

  /** Whether the topic is followed (CONNECTION_SECRET_KEYS is set). */
  get following(): boolean {
    return this.options.sealer !== null;
  }

  /** Follow the topic; resolves once caught up with its end offsets at start. Idempotent. */
  start(): Promise<void> {
    return (this.starting ??= this.follow());
  }

  /** Resolves once the directory holds every connection the topic held when it started. */
  ready(): Promise<void> {
    return this.start();
  }

  get isReady(): boolean {
    return this.caughtUp;
  }

  private async follow(): Promise<void> {
    const o = this.options;
    if (!o.sealer) {
      this.logger.log(
        `CONNECTION_SECRET_KEYS is not set: ${o.defaultConnection ? 'only the default connection (from the environment)' : 'no connection (CONNECTIONS_DEFAULT=off)'}; ${o.topic} is not read`,
      );
      this.caughtUp = true;
      return;
    }
    const admin = o.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, o.kafkaConfig);
    } finally {
      await admin.disconnect();
    }
    this.follower = await followTopic(o.kafka, o.topic, o.groupPrefix, (m) => this.applyMessage(m));
    this.caughtUp = true;
    const s = this.stats;
    const unusable = this.unusable();
    this.logger.log(
      `connections: ${this.all().length} in use (${o.defaultConnection ? 'the default one and ' : ''}${s.applied} record(s) of ${o.topic} applied, ${s.stale} older revision(s) ignored)` +
        (unusable.length > 0 ? `; ${unusable.length} unusable: ${unusable.map((u) => u.id).join(', ')}` : ''),
    );
  }

  /** One record of the topic (exposed for the follower only). */
  private async applyMessage(m: KafkaMessage): Promise<void> {
    const key = m.key?.toString('utf8') ?? '';
    if (key === '') {
      this.logger.warn(`a record of ${this.options.topic} at offset ${m.offset} has no key: ignored`);
      return;
    }
    if (!m.value || m.value.length === 0) {
      this.applyTombstone(key);
      this.records?.inc({ outcome: 'tombstone' });
      return;
    }
    let outcome;
    try {
      outcome = this.applyRecord(key, await this.options.codec.decodeAs('connections', m.value));
    } catch (e) {
      if (!(e instanceof RecordDecodeError)) throw e; // the registry cannot answer now: read again
      outcome = this.applyUndecodable(key, e.message);
    }
    this.records?.inc({ outcome: outcome.kind });
    if (outcome.kind === 'unusable')
      this.logger.warn(
        `connection "${key.slice(0, 70)}" (offset ${m.offset} of ${this.options.topic}) is unusable: ${outcome.reason}`,
      );
    else if (outcome.kind === 'stale')
      this.logger.debug(
        `connection "${key}": revision ${outcome.revision} ignored (revision ${outcome.current} already read)`,
      );
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
