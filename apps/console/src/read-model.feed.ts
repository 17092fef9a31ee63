import { Logger } from '@nestjs/common';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Config } from '@iks/config';
import { AvroCodec, DLQ_SOURCES, dlqName, ensureTopics, deadLetterFromAvro, outageFromAvro, outcomeFromAvro, reconcileReportFromAvro, throwAwayConsumer, topicName, type ThrowAwayConsumer } from '@iks/kafka';
import type { DeliveryReadModel } from './read-model';
import type { GapsModel } from './gaps-model';
import type { SharedAdmin } from './shared-admin';

/**
 * Feeds the read models from Kafka: klaviyo.outcomes.v1 and every dead-letter topic (Metrics,
 * Person, Pipeline), pipeline.reconcile.v1 and pipeline.outages.v1 (Gaps), from the
 * beginning, in a throw-away group that commits nothing and is deleted on close (the read
 * model is rebuilt by replay on every start: event-sourced).
 */
export class ReadModelFeed {
  private readonly logger = new Logger(ReadModelFeed.name);
  private feed?: ThrowAwayConsumer;
  readonly outcomesTopic: string;
  readonly dlqTopics: readonly string[];
  readonly reportsTopic: string;
  readonly outagesTopic: string;
  /** Per `topic:partition`: next offset read. */
  private readonly read = new Map<string, bigint>();

  constructor(
    private readonly kafka: Kafka, private readonly codec: AvroCodec, private readonly model: DeliveryReadModel, private readonly gaps: GapsModel, private readonly config: Config,
  ) {
    const p = config.kafka.topicPrefix;
    this.outcomesTopic = topicName('outcomes', p);
    this.reportsTopic = topicName('reconcileReports', p);
    this.outagesTopic = topicName('outages', p);
    this.dlqTopics = DLQ_SOURCES.map((k) => dlqName(topicName(k, p)));
  }

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.config.kafka);
    } finally {
      await admin.disconnect();
    }
    this.feed = throwAwayConsumer(this.kafka, `${this.config.kafka.topicPrefix}iks-console`, { allowAutoTopicCreation: false, maxBytesPerPartition: 8 * 1024 * 1024 });
    const { consumer, groupId } = this.feed;
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) await this.applyOne(batch.topic, batch.partition, m);
        if (batch.messages.length > 0) this.read.set(`${batch.topic}:${batch.partition}`, BigInt(batch.messages[batch.messages.length - 1].offset) + 1n);
      },
    });
    this.logger.log(`reading ${this.outcomesTopic}, ${this.dlqTopics.length} dead-letter topics, ${this.reportsTopic} and ${this.outagesTopic} from the beginning (group ${groupId}, nothing committed)`);
  }

  private get topics(): string[] {
    return [this.outcomesTopic, ...this.dlqTopics, this.reportsTopic, this.outagesTopic];
  }

  async applyOne(topic: string, partition: number, m: Pick<KafkaMessage, 'offset' | 'value' | 'key' | 'timestamp'>): Promise<void> {
    const { offset, value } = m;
    if (topic === this.reportsTopic || topic === this.outagesTopic) {
      try {
        if (topic === this.outagesTopic) this.gaps.applyOutage(m.key?.toString() ?? '', value ? (await this.codec.decodeAs('outages', value)) : null, Number(m.timestamp));
        else if (value) this.gaps.applyReport((await this.codec.decodeAs('reconcileReports', value)));
      } catch (e) {
        this.logger.warn(`${topic}:${partition}:${offset} cannot be read: ${(e as Error).message}`);
      }
      return;
    }
    if (topic === this.outcomesTopic) {
      if (!value) return;
      try {
        this.model.apply((await this.codec.decodeAs('outcomes', value)));
      } catch (e) {
        this.logger.warn(`${topic}:${partition}:${offset} is not an outcome: ${(e as Error).message}`);
      }
      return;
    }
    const at = `${topic}:${partition}:${offset}`;
    try {
      if (!value) throw new Error('empty record value');
      const letter = (await this.codec.decodeAs('dlq', value));
      let decoded: string | null = null;
      if (letter.value) {
        decoded = await this.codec.decode(Buffer.from(letter.value)).then((v) => JSON.stringify(v, bigintSafe, 2)).catch(() => null);
      }
      this.model.applyDeadLetter(at, letter, decoded);
    } catch (e) {
      this.model.applyDeadLetter(at, null, null, (e as Error).message);
    }
  }

  /** Outcomes and dead letters not yet read (high watermark − next offset read), for "caught up". */
  async behind(admin: SharedAdmin): Promise<number> {
    return admin.use(async (admin) => {
      let n = 0n;
      for (const topic of this.topics) {
        for (const p of await admin.fetchTopicOffsets(topic)) {
          const next = this.read.get(`${topic}:${p.partition}`) ?? BigInt(p.low);
          if (BigInt(p.high) > next) n += BigInt(p.high) - next;
        }
      }
      return Number(n);
    });
  }

  async stop(): Promise<void> {
    await this.feed?.stop();
  }
}

function bigintSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  return v;
}
