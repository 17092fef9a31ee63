import type { KafkaMessage, Producer } from 'kafkajs';
import type { DeadLetter } from '@iks/domain';
import type { AvroCodec } from './avro-codec';
import { sendInBoundedRequests, type TopicMessage } from './producer-requests';
import { deadLetterToAvro } from './serdes';
import { dlqName } from './topics';

export interface FailureContext {
  readonly topic: string;
  readonly partition: number;
  readonly message: Pick<KafkaMessage, 'key' | 'value' | 'headers' | 'offset'>;
  readonly stage: 'ingest' | 'transformer' | 'sink';
  readonly error: unknown;
  readonly attempts?: number;
  readonly firstFailureAt?: number;
}

export function describeError(error: unknown): {
  cls: string;
  message: string;
  code: string | null;
  retriable: boolean;
} {
  const e = error as {
    name?: string;
    message?: string;
    code?: unknown;
    retriable?: boolean;
    constructor?: { name?: string };
  };
  return {
    cls: e?.name && e.name !== 'Error' ? e.name : (e?.constructor?.name ?? 'Error'),
    message: e?.message ?? String(error),
    code: e?.code === undefined || e?.code === null ? null : String(e.code),
    retriable: e?.retriable === true,
  };
}

/**
 * Kafka Connect's rule: a record the stage cannot process goes to `<topic>.dlq` with its
 * original bytes and headers plus the context, and only then is the offset committed.
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
  ) {}

  build(ctx: FailureContext): DeadLetter {
    const now = Date.now();
    const d = describeError(ctx.error);
    const headers = Object.entries(ctx.message.headers ?? {}).flatMap(([key, v]) =>
      (Array.isArray(v) ? v : [v])
        .filter((x) => x !== undefined)
        .map((x) => ({ key, value: Buffer.isBuffer(x) ? x.toString('utf8') : String(x) })),
    );
    return {
      original_topic: ctx.topic,
      partition: ctx.partition,
      offset: ctx.message.offset,
      key: ctx.message.key ?? null,
      value: ctx.message.value ?? null,
      headers,
      stage: ctx.stage,
      error_class: d.cls,
      error_message: d.message.slice(0, 10_000),
      error_code: d.code,
      retriable: d.retriable,
      attempts: ctx.attempts ?? 1,
      first_failure_at: ctx.firstFailureAt ?? now,
      last_failure_at: now,
    };
  }

  async publish(ctx: FailureContext): Promise<void> {
    await this.publishAll([ctx]);
  }

  /**
   * The dead letters of one slice, in order, acknowledged (acks=all) before the caller commits:
   * in requests of bounded size, not one round trip per letter.
   */
  async publishAll(ctxs: readonly FailureContext[]): Promise<void> {
    const messages: TopicMessage[] = [];
    for (const ctx of ctxs) {
      const dlq = dlqName(ctx.topic);
      messages.push({
        topic: dlq,
        key: ctx.message.key ?? null,
        value: await this.codec.encode(dlq, deadLetterToAvro(this.build(ctx))),
      });
    }
    await sendInBoundedRequests(this.producer, messages);
  }
}
