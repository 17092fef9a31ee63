import { Logger } from '@nestjs/common';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Config } from '@iks/config';
import {
  AvroCodec,
  DLQ_SOURCES,
  dlqName,
  ensureTopics,
  throwAwayConsumer,
  topicName,
  type ThrowAwayConsumer,
} from '@iks/kafka';
import { ErasedSubjectError, openOutcome, type SubjectKeys } from '@iks/erasure';
import type { DeliveryOutcome } from '@iks/domain';
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
  /** Per `topic:partition`: the newest high watermark known (each batch brings one; refreshed every second). */
  private readonly high = new Map<string, bigint>();
  private refresher: NodeJS.Timeout | null = null;
  private refreshed: Promise<void> | null = null;
  /** When the high watermarks were last read from the brokers (0: never). */
  highsReadAt = 0;
  /** The feed consumer's state, for /health: joined its group and fetching, or why not. */
  state: 'starting' | 'running' | 'crashed' | 'stopped' = 'starting';
  lastError: string | null = null;
  /** When the read model first held everything the topics held (null: not yet since the start). */
  caughtUpAt: number | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly model: DeliveryReadModel,
    private readonly gaps: GapsModel,
    private readonly config: Config,
    /** Reads the high watermarks (for "caught up"); null: only what the batches bring. */
    private readonly admin: SharedAdmin | null = null,
    /** Opens the outcomes' sealed personal fields (docs/ERASURE.md); null: they are shown as erased. */
    private readonly keys: SubjectKeys | null = null,
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
    // the people's keys first: the outcomes' personal fields open with them
    await this.keys?.start();
    void this.refreshHighs().catch(() => undefined);
    this.feed = throwAwayConsumer(this.kafka, `${this.config.kafka.topicPrefix}iks-console`, {
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 8 * 1024 * 1024,
    });
    const { consumer, groupId } = this.feed;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.state = 'running';
      this.lastError = null;
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.state = payload.restart ? 'starting' : 'crashed';
      this.lastError = payload.error.message;
      this.logger.error(
        `the read model's consumer crashed${payload.restart ? ' (restarting)' : ' for good'}: ${payload.error.message}`,
      );
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) await this.applyOne(batch.topic, batch.partition, m);
        const at = `${batch.topic}:${batch.partition}`;
        if (batch.messages.length > 0) this.read.set(at, BigInt(batch.messages[batch.messages.length - 1].offset) + 1n);
        const high = BigInt(batch.highWatermark);
        if (high > (this.high.get(at) ?? -1n)) this.high.set(at, high);
        if (this.caughtUpAt === null) this.behind();
      },
    });
    // the high watermarks in the background: a page never waits for the brokers (that was most of the Metrics page's time)
    this.refresher = setInterval(() => void this.refreshHighs().catch(() => undefined), 1000);
    this.refresher.unref();
    this.logger.log(
      `reading ${this.outcomesTopic}, ${this.dlqTopics.length} dead-letter topics, ${this.reportsTopic} and ${this.outagesTopic} from the beginning (group ${groupId}, nothing committed)`,
    );
  }

  private get topics(): string[] {
    return [this.outcomesTopic, ...this.dlqTopics, this.reportsTopic, this.outagesTopic];
  }

  async applyOne(
    topic: string,
    partition: number,
    m: Pick<KafkaMessage, 'offset' | 'value' | 'key' | 'timestamp'>,
  ): Promise<void> {
    const { offset, value } = m;
    if (topic === this.reportsTopic || topic === this.outagesTopic) {
      try {
        if (topic === this.outagesTopic)
          this.gaps.applyOutage(
            m.key?.toString() ?? '',
            value ? await this.codec.decodeAs('outages', value) : null,
            Number(m.timestamp),
          );
        else if (value) this.gaps.applyReport(await this.codec.decodeAs('reconcileReports', value));
      } catch (e) {
        this.logger.warn(`${topic}:${partition}:${offset} cannot be read: ${(e as Error).message}`);
      }
      return;
    }
    if (topic === this.outcomesTopic) {
      if (!value) return;
      try {
        const outcome = await this.codec.decodeAs('outcomes', value);
        this.model.apply(await this.opened(outcome));
        // the sink writes a deletion's delivered outcome only after it destroyed her keys
        // (docs/ERASURE.md): a sealed one says she is erased, whether or not this console's keys
        // follower has read the tombstones yet
        if (
          outcome.record_kind === 'deletion' &&
          outcome.kind === 'delivered' &&
          outcome.personal &&
          outcome.intercom_contact_id !== null
        )
          this.model.markErased(outcome.intercom_contact_id);
      } catch (e) {
        this.logger.warn(`${topic}:${partition}:${offset} is not an outcome: ${(e as Error).message}`);
      }
      return;
    }
    const at = `${topic}:${partition}:${offset}`;
    try {
      if (!value) throw new Error('empty record value');
      const letter = await this.codec.decodeAs('dlq', value);
      let decoded: string | null = null;
      if (letter.value) {
        decoded = await this.codec
          .decode(Buffer.from(letter.value))
          .then((v) => this.shownPersonal(v))
          .then((v) => JSON.stringify(v, bigintSafe, 2))
          .catch(() => null);
      }
      this.model.applyDeadLetter(at, letter, decoded);
    } catch (e) {
      this.model.applyDeadLetter(at, null, null, (e as Error).message);
    }
  }

  /**
   * The outcome with its personal fields opened. An erased person's (or one this console has no
   * key for) keeps only its ids, times and states: the model marks her erased, the pages say so.
   */
  private async opened(o: DeliveryOutcome): Promise<DeliveryOutcome> {
    if (!o.personal) return o;
    try {
      if (this.keys) return await openOutcome(this.keys, o);
    } catch (e) {
      if (!(e instanceof ErasedSubjectError)) throw e;
    }
    if (o.intercom_contact_id !== null) this.model.markErased(o.intercom_contact_id);
    const { personal: _sealed, ...rest } = o;
    return { ...rest, email: null, phone_number: null, properties_json: null };
  }

  /** A dead letter's decoded record with its sealed personal field opened for display, or "erased". */
  private async shownPersonal(decoded: unknown): Promise<unknown> {
    const r = decoded as Record<string, unknown> | null;
    if (!r || typeof r !== 'object' || !Buffer.isBuffer(r.personal)) return decoded;
    const contactId = typeof r.intercom_contact_id === 'string' ? r.intercom_contact_id : r.id;
    let personal: unknown = 'erased';
    if (this.keys && typeof contactId === 'string' && typeof r.connection_id === 'string') {
      try {
        const opened = await this.keys.open({ connectionId: r.connection_id, contactId }, r.personal);
        personal = JSON.parse(opened.toString('utf8'));
      } catch (e) {
        if (!(e instanceof ErasedSubjectError)) personal = `(sealed: ${(e as Error).message})`;
      }
    }
    return { ...r, personal };
  }

  /**
   * Reads every topic's high watermarks (all topics at once; one call in flight at a time). The
   * feed is `behind` by what lies between them and the next offsets it reads.
   */
  refreshHighs(admin: SharedAdmin | null = this.admin): Promise<void> {
    if (admin === null) return Promise.resolve();
    this.refreshed ??= admin
      .use(async (a) => {
        const offsets = await Promise.all(
          this.topics.map(async (topic) => ({ topic, partitions: await a.fetchTopicOffsets(topic) })),
        );
        for (const { topic, partitions } of offsets) {
          for (const p of partitions) {
            const at = `${topic}:${p.partition}`;
            if (!this.read.has(at)) this.read.set(at, BigInt(p.low));
            if (BigInt(p.high) > (this.high.get(at) ?? -1n)) this.high.set(at, BigInt(p.high));
          }
        }
        this.highsReadAt = Date.now();
        this.behind();
      })
      .finally(() => {
        this.refreshed = null;
      });
    return this.refreshed;
  }

  /**
   * Outcomes, dead letters and reports not yet read: the high watermarks known (at most a second
   * old) minus the next offsets read; null until the watermarks have been read once.
   */
  behind(): number | null {
    if (this.highsReadAt === 0) return null;
    let n = 0n;
    for (const [at, high] of this.high) {
      const next = this.read.get(at) ?? 0n;
      if (high > next) n += high - next;
    }
    if (n === 0n && this.caughtUpAt === null && this.state === 'running') this.caughtUpAt = Date.now();
    return Number(n);
  }

  async stop(): Promise<void> {
    if (this.refresher) clearInterval(this.refresher);
    this.state = 'stopped';
    await this.feed?.stop();
    await this.keys?.stop();
  }
}

function bigintSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  return v;
}
