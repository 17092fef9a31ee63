import type { KafkaMessage, Message, Producer } from 'kafkajs';
import type { DeliveryOutcome, DeliveryOutcomeKind } from '@iks/domain';
import {
  describeError,
  header,
  outcomeToAvro,
  RECEIVED_AT,
  SEALED_RECORDS_COMPRESSION,
  sendInBoundedRequests,
  type AvroCodec,
} from '@iks/kafka';
import { Coalescer } from './coalescer';
import type { OutcomeSubject, RecordOutcome, StageName } from './stage.types';

const KIND: Readonly<Record<RecordOutcome['kind'], DeliveryOutcomeKind>> = {
  done: 'delivered',
  skip: 'skipped',
  pending: 'pending',
  dead_letter: 'dead_lettered',
};

/** The record part of an outcome when the record could not be decoded. */
const UNKNOWN: OutcomeSubject = {
  record_kind: null,
  metric: null,
  unique_id: null,
  intercom_contact_id: null,
  email: null,
  phone_number: null,
  event_time: null,
  properties_json: null,
  backfill: false,
  source_notification_id: null,
  personal: null,
};

export type DescribeRecord = (topic: string, value: Buffer | null) => Promise<OutcomeSubject | null>;

/**
 * Publishes what a stage did with each record to an outcomes topic (klaviyo.outcomes.v1), so
 * that a read model (the console) can be built, and rebuilt, from Kafka alone.
 */
export class OutcomePublisher {
  /** Slices that settle in the same turn (the sink's, answered by one bulk request) share produce requests. */
  private readonly out: Coalescer<Message>;

  constructor(
    private readonly topic: string,
    private readonly stage: StageName,
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
    private readonly describe: DescribeRecord,
  ) {
    this.out = new Coalescer((messages) => this.sendNow(messages));
  }

  /** One outcome per record, produced with acks=all before the slice is committed (at-least-once). */
  async publish(
    topic: string,
    partition: number,
    chunk: readonly KafkaMessage[],
    outcomes: readonly RecordOutcome[],
  ): Promise<void> {
    const at = Date.now();
    const messages: Message[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const o = outcomes[i];
      if (o.kind === 'dead_letter') {
        const d = describeError(o.error);
        messages.push(
          await this.message(
            topic,
            partition,
            chunk[i],
            at,
            KIND[o.kind],
            `${d.cls}: ${d.message}`.slice(0, 4000),
            d.code ?? d.cls,
            o.subject,
          ),
        );
      } else {
        const when = o.kind === 'done' ? (o.outcomeAt ?? at) : at;
        messages.push(await this.message(topic, partition, chunk[i], when, KIND[o.kind], o.reason, null, o.subject));
      }
    }
    await this.send(messages);
  }

  /** The slice failed as a whole (broker, registry, network) and will be read again: each record is `retried`. */
  async publishRetried(
    topic: string,
    partition: number,
    chunk: readonly KafkaMessage[],
    error: unknown,
  ): Promise<void> {
    const d = describeError(error);
    const at = Date.now();
    const messages: Message[] = [];
    for (const m of chunk)
      messages.push(
        await this.message(
          topic,
          partition,
          m,
          at,
          'retried',
          `${d.cls}: ${d.message}`.slice(0, 4000),
          d.code ?? d.cls,
        ),
      );
    await this.send(messages);
  }

  private async message(
    topic: string,
    partition: number,
    m: KafkaMessage,
    at: number,
    kind: DeliveryOutcomeKind,
    reason: string,
    code: string | null,
    known?: OutcomeSubject,
  ): Promise<Message> {
    const subject = known ?? (await this.describe(topic, m.value).catch(() => null)) ?? UNKNOWN;
    const ts = Number(m.timestamp);
    const received = Number(header(m.headers, RECEIVED_AT) ?? NaN);
    const outcome: DeliveryOutcome = {
      topic,
      partition,
      offset: m.offset,
      stage: this.stage,
      kind,
      reason,
      error_code: code,
      ...subject,
      record_timestamp: Number.isFinite(ts) ? ts : null,
      outcome_at: at,
      received_at: Number.isFinite(received) ? received : null,
    };
    return {
      key: subject.intercom_contact_id ?? m.key ?? null,
      value: await this.codec.encode(this.topic, outcomeToAvro(outcome)),
    };
  }

  private send(messages: Message[]): Promise<void> {
    return this.out.add(messages);
  }

  /** LZ4: most of an outcome's bytes are its record's sealed `personal` field (SEALED_RECORDS_COMPRESSION). */
  private async sendNow(messages: Message[]): Promise<void> {
    await sendInBoundedRequests(
      this.producer,
      messages.map((m) => ({ ...m, topic: this.topic })),
      { compression: SEALED_RECORDS_COMPRESSION },
    );
  }
}
